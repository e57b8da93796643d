// `meridian credentials …`: what runtimes use to call the application's APIs (mTLS).
import { Option, type Command } from 'commander';
import { collect, examples, pairs } from '../arguments.js';
import { UsageError, type Answer, type Context } from '../context.js';
import { table } from '../output.js';

interface CredentialOptions {
  basic?: string;
  bearer?: string;
  oauthClientId?: string;
  oauthClientSecret?: string;
  oauthTokenUrl?: string;
  header?: string[];
  query?: string[];
}

/** The body of `PUT …/credentials/<runtimeId>` from the options; UsageError for a --basic without a colon. */
function credentialsBody(o: CredentialOptions, cmd: Command) {
  const at = typeof o.basic === 'string' ? o.basic.indexOf(':') : -1;
  if (o.basic !== undefined && at < 1) throw new UsageError('--basic must be user:password', cmd);
  return {
    ...(o.basic !== undefined && { basic: { username: o.basic.slice(0, at), password: o.basic.slice(at + 1) } }),
    ...(o.bearer !== undefined && { bearer: { token: o.bearer } }),
    ...((o.oauthClientId ?? o.oauthClientSecret ?? o.oauthTokenUrl) !== undefined && {
      oauth: { clientId: o.oauthClientId, clientSecret: o.oauthClientSecret, tokenUrl: o.oauthTokenUrl },
    }),
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
  examples(
    credentials
      .command('set <apiId> <runtimeId>')
      .description('set the credentials a runtime uses for an API: exactly one of --basic, --bearer, --oauth-*')
      .option('--basic <user:password>', 'HTTP Basic')
      .option('--bearer <token>', 'bearer token')
      .option('--oauth-client-id <id>', 'OAuth 2 client credentials: client id')
      .option('--oauth-client-secret <secret>', '… client secret')
      .option('--oauth-token-url <url>', '… token endpoint')
      .option('--header <name=value>', 'extra header (repeatable)', collect)
      .option('--query <name=value>', 'extra query parameter (repeatable)', collect)
      .action(async (apiId: string, runtimeId: string, o: CredentialOptions, cmd: Command) => {
        const slot = await ctx.asApplication(cmd, 'PUT', `/v1/application/apis/${apiId}/credentials/${runtimeId}`, credentialsBody(o, cmd));
        ctx.print(cmd, slot, () => `${slot.apiName ?? slot.apiId} → ${slot.runtimeName ?? slot.runtimeId}: ${slot.status}\n`);
      }),
    'meridian credentials set <apiId> <runtimeId> --basic svc-edge:s3cret --header X-Tenant=acme',
    'meridian credentials set <apiId> <runtimeId> --oauth-client-id edge --oauth-client-secret s3cret --oauth-token-url https://idp.example.com/token',
  );
  examples(
    credentials.command('clear <apiId> <runtimeId>').description('clear them (the slot is PENDING again)').action(async (apiId: string, runtimeId: string, _o, cmd: Command) => {
      await ctx.asApplication(cmd, 'DELETE', `/v1/application/apis/${apiId}/credentials/${runtimeId}`);
      ctx.print(cmd, { cleared: { apiId, runtimeId } }, () => 'cleared\n');
    }),
    'meridian credentials clear <apiId> <runtimeId>',
  );
}
