// `meridian connect` and `meridian config`: pairing as an application, and what it then reads.
import type { Command } from 'commander';
import { connect, saveCredentials } from '../../client/connector.js';
import { examples, readSecret, refuseSecretOption } from '../arguments.js';
import { ApiError, UsageError, type Answer, type Context } from '../context.js';
import { table } from '../output.js';

/** Adds `connect`. */
export function connectCommands(program: Command, ctx: Context): void {
  const command = program
    .command('connect')
    .description('pair as an application: key, CSR and certificate, stored in --dir')
    .option('--token-file <file>', 'the pairing token (meridian app pair) from a file, - for standard input (else env MERIDIAN_CONNECTOR_TOKEN)')
    .option('--connector-url <url>', 'signing-request URL (default: <url>/connector/v1/signing-request)')
    .action(async (o: { tokenFile?: string; connectorUrl?: string }, cmd: Command) => {
      const { dir, url } = ctx.globals(cmd);
      const token = readSecret(o.tokenFile, ctx.env, 'MERIDIAN_CONNECTOR_TOKEN', 'pairing token');
      if (!token) throw new UsageError('the pairing token is required: --token-file <file> (- for standard input) or MERIDIAN_CONNECTOR_TOKEN', cmd);
      const connected = await pairInto(ctx, cmd, o.connectorUrl ?? `${url}/connector/v1/signing-request`, token);
      ctx.print(cmd, connected, () => `connected as ${connected.name} (${connected.id}); key and certificate in ${dir}\n`);
    });
  refuseSecretOption(command, '--token <token>', 'use --token-file <file> (- for standard input) or MERIDIAN_CONNECTOR_TOKEN');
  examples(
    command,
    'meridian app pair billing --json | jq -r .token | meridian connect --token-file - --dir ./billing-certs',
    'MERIDIAN_CONNECTOR_TOKEN="$(cat pairing-token)" meridian connect --dir ./billing-certs',
  );
}

/**
 * Pairs as the application with a pairing token: key, CSR and certificate into --dir (replacing what is
 * there: an expired or revoked certificate), then reads who it is over mTLS. Shared by `meridian connect`
 * and `meridian app pair --connect`.
 */
export async function pairInto(ctx: Context, cmd: Command, connectorUrl: string, token: string): Promise<{ id: string; name: string; dir: string; mtlsBaseUrl: string }> {
  const { dir } = ctx.globals(cmd);
  const credentials = await connect(connectorUrl, token).catch((error: Error & { status?: number; problem?: ApiError['problem'] }) => {
    throw error.status ? new ApiError(error.status, error.problem) : error;
  });
  saveCredentials(dir, credentials);
  const me = await ctx.asApplication(cmd, 'GET', '/v1/application');
  return { id: me.id, name: me.name, dir, mtlsBaseUrl: credentials.mtlsBaseUrl };
}

/** Adds `config` (registered last, after the application's other commands). */
export function configCommand(program: Command, ctx: Context): void {
  examples(
    program
      .command('config')
      .description("the application's configuration: runtimes of its scenarios, their status and eventUrl")
      .action(async (_o, cmd: Command) => {
        const config = await ctx.asApplication(cmd, 'GET', '/v1/application/configuration');
        ctx.print(cmd, config, () => `configVersion ${config.configVersion}\n${table(['RUNTIME', 'ID', 'STATUS', 'EVENT URL', 'SCENARIOS'], config.runtimes.map((r: Answer) => [r.name, r.id, r.status, r.eventUrl, r.scenarios]))}`);
      }),
    'meridian --dir ./billing-certs config --json',
  );
}
