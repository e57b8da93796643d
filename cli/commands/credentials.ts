// `meridian credentials …`: what runtimes use to call the application's APIs (mTLS).
import { Option, type Command } from 'commander';
import { collect, examples, pairs, readSecret, refuseSecretOption, refuseStrayArguments } from '../arguments.js';
import { UsageError, type Answer, type Context } from '../context.js';
import { table } from '../output.js';

interface CredentialOptions {
  basic?: string;
  bearer?: boolean;
  oauthClientId?: string;
  oauthTokenUrl?: string;
  secretFile?: string;
  header?: string[];
  query?: string[];
}

const SECRET_SOURCES = '--secret-file <file> (- for standard input) or MERIDIAN_CREDENTIAL_SECRET';

/**
 * The body of `PUT …/credentials/<runtimeId>` from the options, the password, token or client secret
 * read from --secret-file or MERIDIAN_CREDENTIAL_SECRET. UsageError for a secret on the command line
 * (`--basic user:password`, `--bearer <token>`) or a kind without its secret.
 */
function credentialsBody(ctx: Context, o: CredentialOptions, cmd: Command) {
  if (o.basic?.includes(':')) throw new UsageError(`--basic takes the user name only: a password on the command line is visible in ps and in shell history; pass it with ${SECRET_SOURCES}`, cmd);
  refuseStrayArguments(cmd, 2, `--bearer takes no value; pass the token with ${SECRET_SOURCES}`);
  const oauth = o.oauthClientId !== undefined || o.oauthTokenUrl !== undefined;
  const needed = o.basic !== undefined ? 'password' : o.bearer ? 'token' : oauth ? 'client secret' : undefined;
  const secret = needed && readSecret(o.secretFile, ctx.env, 'MERIDIAN_CREDENTIAL_SECRET', needed);
  if (needed && !secret) throw new UsageError(`the ${needed} is required: ${SECRET_SOURCES}`, cmd);
  return {
    ...(o.basic !== undefined && { basic: { username: o.basic, password: secret } }),
    ...(o.bearer && { bearer: { token: secret } }),
    ...(oauth && { oauth: { clientId: o.oauthClientId, clientSecret: secret, tokenUrl: o.oauthTokenUrl } }),
    ...(o.header && { headers: pairs(o.header, '--header') }),
    ...(o.query && { queryParams: pairs(o.query, '--query') }),
  };
}

/** Adds `credentials list|set|clear`. */
export function credentialsCommands(program: Command, ctx: Context): void {
  const credentials = program.command('credentials').description('credentials the application gives runtimes for its APIs (mTLS)');
  examples(
    credentials
      .command('list')
      .description('credential slots: one per (API, runtime) pair of a shared scenario')
      .addOption(new Option('--status <status>', 'only slots in this status').choices(['PENDING', 'SUCCEEDED', 'FAILED', 'UNUSED']))
      .action(async (o: { status?: string }, cmd: Command) => {
        const page = await ctx.asApplication(cmd, 'GET', `/v1/application/credentials?limit=100${o.status ? `&status=${o.status}` : ''}`);
        ctx.print(cmd, page.items, () => table(['API', 'API ID', 'RUNTIME', 'RUNTIME ID', 'STATUS', 'UPDATED'], page.items.map((s: Answer) => [s.apiName, s.apiId, s.runtimeName, s.runtimeId, s.status, s.updatedAt])));
      }),
    'meridian credentials list --status PENDING',
  );
  const set = credentials
    .command('set <apiId> <runtimeId>')
    .description(`set the credentials a runtime uses for an API: exactly one of --basic, --bearer, --oauth-*; the secret from ${SECRET_SOURCES}`)
    .option('--basic <user>', 'HTTP Basic, as this user; the password is the secret')
    .option('--bearer', 'a bearer token: the secret')
    .option('--oauth-client-id <id>', 'OAuth 2 client credentials: client id; the client secret is the secret')
    .option('--oauth-token-url <url>', '… token endpoint')
    .option('--secret-file <file>', 'the password, token or client secret from a file, - for standard input (else env MERIDIAN_CREDENTIAL_SECRET)')
    .option('--header <name=value>', 'extra header (repeatable)', collect)
    .option('--query <name=value>', 'extra query parameter (repeatable)', collect)
    // Stray arguments are refused by credentialsBody, which can say why without showing them.
    .allowExcessArguments()
    .action(async (apiId: string, runtimeId: string, o: CredentialOptions, cmd: Command) => {
      const slot = await ctx.asApplication(cmd, 'PUT', `/v1/application/apis/${apiId}/credentials/${runtimeId}`, credentialsBody(ctx, o, cmd));
      ctx.print(cmd, slot, () => `${slot.apiName ?? slot.apiId} → ${slot.runtimeName ?? slot.runtimeId}: ${slot.status}\n`);
    });
  refuseSecretOption(set, '--oauth-client-secret <secret>', `pass it with ${SECRET_SOURCES}`);
  examples(
    set,
    'meridian credentials set <apiId> <runtimeId> --basic svc-edge --secret-file ./edge-password --header X-Tenant=acme',
    'vault read -field=secret kv/edge | meridian credentials set <apiId> <runtimeId> --oauth-client-id edge --oauth-token-url https://idp.example.com/token --secret-file -',
  );
  examples(
    credentials.command('clear <apiId> <runtimeId>').description('clear them (the slot is PENDING again)').action(async (apiId: string, runtimeId: string, _o, cmd: Command) => {
      await ctx.asApplication(cmd, 'DELETE', `/v1/application/apis/${apiId}/credentials/${runtimeId}`);
      ctx.print(cmd, { cleared: { apiId, runtimeId } }, () => 'cleared\n');
    }),
    'meridian credentials clear <apiId> <runtimeId>',
  );
}
