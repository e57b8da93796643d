// `meridian`: the operator's and the application developer's command line. Operator commands call the
// public API with an admin token (tenants, tokens and keys go to PostgreSQL, through db/); application
// commands call the mTLS listener with the certificate `meridian connect` stored. The API's answers
// are described in docs/api.md. One file per command group in commands/; what they share in context.ts.
import { Command, CommanderError } from 'commander';
import { appCommands } from './commands/app.js';
import { auditCommands } from './commands/audit.js';
import { caCommands } from './commands/ca.js';
import { configCommand, connectCommands } from './commands/connect.js';
import { credentialsCommands } from './commands/credentials.js';
import { definitionCommands } from './commands/definitions.js';
import { keysCommands } from './commands/keys.js';
import { labelCommands } from './commands/label.js';
import { operationCommands } from './commands/op.js';
import { runtimeCommands } from './commands/runtime.js';
import { scenarioCommands } from './commands/scenario.js';
import { templateCommands } from './commands/template.js';
import { tenantCommands } from './commands/tenant.js';
import { webhookCommands } from './commands/webhook.js';
import { ApiError, CommandFailed, Context, UsageError } from './context.js';
import { refuseSecretOption } from './arguments.js';
import type { Io } from './output.js';

/** The command groups, in the order --help lists them. */
const GROUPS = [
  tenantCommands,
  keysCommands,
  caCommands,
  appCommands,
  runtimeCommands,
  scenarioCommands,
  labelCommands,
  templateCommands,
  operationCommands,
  auditCommands,
  connectCommands,
  definitionCommands,
  webhookCommands,
  credentialsCommands,
  configCommand,
];

/** Builds the program; `env` stands in for process.env so tests run it in-process. */
export function buildProgram(io: Io, env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('meridian')
    .description('Operate Meridian, or act as a paired application')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError()
    .option('--url <url>', 'public API of Meridian (env MERIDIAN_URL)', env.MERIDIAN_URL ?? 'http://127.0.0.1:8080')
    .option('--admin-token-file <file>', 'admin token from a file, - for standard input (else env MERIDIAN_TOKEN)')
    .option('--dir <dir>', "where an application's key and certificate are kept (env MERIDIAN_APP_DIR)", env.MERIDIAN_APP_DIR ?? '.meridian-app')
    .option('--ui <url>', 'Temporal UI, for links to workflows (env MERIDIAN_TEMPORAL_UI)', env.MERIDIAN_TEMPORAL_UI ?? 'http://localhost:8233')
    .option('--json', 'print JSON instead of tables');
  refuseSecretOption(program, '--admin-token <token>', 'set MERIDIAN_TOKEN or use --admin-token-file <file> (- for standard input)');
  program.addHelpText(
    'after',
    `
Examples:
  export MERIDIAN_TOKEN=<admin token printed by npm start>
  meridian app create billing --scenario DEFAULT
  meridian runtime create edge-1 --scenario DEFAULT --wait
  meridian app pair billing --json | jq -r .token | meridian connect --token-file - --dir ./billing-certs
  meridian --dir ./billing-certs config --json
  meridian scenario assign payments env=prod --wait    # runtimes labelled env=prod join payments, now and later
  meridian label define env '{"enum":["dev","prod"]}'  # every label env must be dev or prod
  meridian template apply shop --set region=eu --wait  # an application, its APIs registered, from template shop

Secrets (admin token, pairing token, passwords, client secrets, webhook secrets) are never taken as
arguments, which ps and shell history show: they come from a file or standard input (--*-file -) or
from the environment (MERIDIAN_TOKEN, MERIDIAN_CONNECTOR_TOKEN, MERIDIAN_CREDENTIAL_SECRET,
MERIDIAN_WEBHOOK_SECRET).

Exit codes: 0 done, 1 Meridian refused or an operation failed (its detail is printed), 2 wrong arguments.`,
  );
  const ctx = new Context(io, env);
  for (const addGroup of GROUPS) addGroup(program, ctx);
  return program;
}

/** Runs one command line; resolves with the exit code (0 done, 1 refused or failed, 2 wrong arguments). */
export async function runCli(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const program = buildProgram(io, env);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      return 2;
    }
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n\n${(error.command ?? program).helpInformation()}`);
      return 2;
    }
    if (error instanceof ApiError || error instanceof CommandFailed) {
      io.err(`error: ${error.message}\n`);
      return 1;
    }
    io.err(`error: ${(error as Error).message}\n`);
    return 1;
  }
}
