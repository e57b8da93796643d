// `meridian`: the operator's and the application developer's command line. Operator commands call the
// public API with an admin token (tenants, tokens and keys go to PostgreSQL directly); application
// commands call the mTLS listener with the certificate `meridian connect` stored.
/* eslint-disable @typescript-eslint/no-explicit-any -- answers of the API are JSON shaped by API.md; the CLI prints them */
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DnsName } from '../api/schemas.js';
import { adminRequest } from '../client/admin.js';
import { MtlsClient, connect, loadCredentials, saveCredentials } from '../client/connector.js';
import { embeddedUrl } from '../dev/embedded-postgres.js';
import { keyUsage, reencryptAll } from '../db/keys.js';
import { createPool } from '../db/pool.js';
import { createAdminToken, ensureTenant } from '../db/tenants.js';
import { loadConfig } from '../lib/config.js';
import { addKey, loadKeyring, removeKeys } from '../trust/encryption.js';
import { Progress, details, table, type Io } from './output.js';

/** An answer of Meridian with a problem+json body: the command fails with exit code 1. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly problem: { detail?: string; errors?: Array<{ path: string; message: string }> } | undefined,
  ) {
    super(`${problem?.detail ?? `HTTP ${status}`}${problem?.errors?.length ? `\n${problem.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}` : ''}`);
  }
}

/** Arguments the parser accepted but the command cannot use: usage is printed, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly command?: Command,
  ) {
    super(message);
  }
}

/** A failure that is not the API's (an operation that FAILED, a missing file): exit code 1. */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

interface Globals {
  url: string;
  adminToken?: string;
  json?: boolean;
  dir: string;
  ui: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const pairs = (values: string[] | undefined, what: string) =>
  Object.fromEntries(
    (values ?? []).map((text) => {
      const at = text.indexOf('=');
      if (at < 1) throw new UsageError(`${what} must be key=value, got "${text}"`);
      return [text.slice(0, at), text.slice(at + 1)];
    }),
  );
const jsonValue = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds the program; `env` stands in for process.env so tests run it in-process. */
export function buildProgram(io: Io, env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('meridian')
    .description('Operate Meridian, or act as a paired application')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError()
    .option('--url <url>', 'public API of Meridian (env MERIDIAN_URL)', env.MERIDIAN_URL ?? 'http://127.0.0.1:8080')
    .option('--admin-token <token>', 'admin token (env MERIDIAN_TOKEN)', env.MERIDIAN_TOKEN || undefined)
    .option('--dir <dir>', "where an application's key and certificate are kept (env MERIDIAN_APP_DIR)", env.MERIDIAN_APP_DIR ?? '.meridian-app')
    .option('--ui <url>', 'Temporal UI, for links to workflows (env MERIDIAN_TEMPORAL_UI)', env.MERIDIAN_TEMPORAL_UI ?? 'http://localhost:8233')
    .option('--json', 'print JSON instead of tables');
  program.addHelpText(
    'after',
    `
Examples:
  export MERIDIAN_TOKEN=<admin token printed by npm start>
  meridian app create billing --scenario DEFAULT
  meridian runtime create edge-1 --scenario DEFAULT --wait
  meridian connect --token <pairing token> --dir ./billing-certs
  meridian --dir ./billing-certs config --json

Exit codes: 0 done, 1 Meridian refused or an operation failed (its detail is printed), 2 wrong arguments.`,
  );

  const globals = (cmd: Command) => cmd.optsWithGlobals<Globals>();
  const print = (cmd: Command, value: unknown, human: () => string) => io.out(globals(cmd).json ? `${JSON.stringify(value, null, 2)}\n` : human());

  /** Calls the public API as an administrator. */
  async function admin(cmd: Command, method: string, urlPath: string, body?: unknown): Promise<any> {
    const { url, adminToken: token } = globals(cmd);
    if (!token) throw new UsageError('an admin token is required: --admin-token or MERIDIAN_TOKEN', cmd);
    const res = await adminRequest(url, token, method, urlPath, body);
    if (res.status >= 400) throw new ApiError(res.status, res.body);
    return res.body;
  }

  /** Calls the mTLS listener as the application whose certificate is in --dir. */
  async function asApplication<T>(cmd: Command, use: (client: MtlsClient) => Promise<T>): Promise<T> {
    const dir = globals(cmd).dir;
    if (!fs.existsSync(path.join(dir, 'client.crt'))) throw new CommandFailed(`no certificate in ${dir}: run meridian connect --token <t> --dir ${dir} first`);
    const client = new MtlsClient(loadCredentials(dir));
    try {
      return await use(client);
    } finally {
      client.close();
    }
  }
  const ok = (res: { status: number; body: any }) => {
    if (res.status >= 400) throw new ApiError(res.status, res.body);
    return res.body;
  };

  /** An application or runtime by id or by name. */
  async function resolve(cmd: Command, kind: 'applications' | 'runtimes', ref: string): Promise<any> {
    if (UUID.test(ref)) return admin(cmd, 'GET', `/v1/${kind}/${ref}`);
    for (let cursor: string | null = ''; cursor !== null; ) {
      const page: { items: Array<{ name: string }>; nextCursor: string | null } = await admin(cmd, 'GET', `/v1/${kind}?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      const found = page.items.find((item) => item.name === ref);
      if (found) return found;
      cursor = page.nextCursor;
    }
    throw new CommandFailed(`no ${kind.slice(0, -1)} named "${ref}"`);
  }

  const uiLink = (cmd: Command, workflowId: string) => `${globals(cmd).ui}/namespaces/${env.TEMPORAL_NAMESPACE ?? 'default'}/workflows/${encodeURIComponent(workflowId)}`;
  const showOperation = (cmd: Command, op: any) =>
    details([
      ['id', op.id],
      ['type', op.type],
      ['state', op.state],
      ['stage', op.stage],
      ['message', op.message],
      ['resource', op.resourceId],
      ['workflow', op.workflowId],
      ['temporal ui', op.workflowId ? uiLink(cmd, op.workflowId) : undefined],
      ['started', op.startedAt],
      ['finished', op.finishedAt],
    ]);

  /** Follows an operation until it finishes, showing its stages; fails when it FAILED. */
  async function watch(cmd: Command, id: string): Promise<void> {
    const progress = new Progress(io);
    let op = await admin(cmd, 'GET', `/v1/operations/${id}`);
    io.err(`${op.type} ${op.resourceId}: ${uiLink(cmd, op.workflowId)}\n`);
    while (op.state === 'IN_PROGRESS') {
      progress.update(op.stage);
      await sleep(io.interactive ? 100 : 250);
      op = await admin(cmd, 'GET', `/v1/operations/${id}`);
    }
    progress.update(op.stage);
    progress.done(`${op.type} ${op.state}${op.message ? `: ${op.message}` : ''}`);
    print(cmd, op, () => showOperation(cmd, op));
    if (op.state !== 'SUCCEEDED') throw new CommandFailed(`operation ${op.id} ${op.state}${op.message ? `: ${op.message}` : ''}`);
  }

  /** PostgreSQL commands: DATABASE_URL, or the embedded server of a running `npm start`. */
  async function withDatabase<T>(use: (pool: ReturnType<typeof createPool>, config: ReturnType<typeof loadConfig>) => Promise<T>): Promise<T> {
    const config = loadConfig(env);
    const pool = createPool(config.databaseUrl ?? embeddedUrl(path.join(config.dataDir, 'postgres'), config.embeddedPostgresPort), undefined, 2);
    try {
      return await use(pool, config);
    } finally {
      await pool.end();
    }
  }
  const tenantId = async (pool: ReturnType<typeof createPool>, name: string) => {
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM tenants WHERE name = $1', [name]);
    if (!rows[0]) throw new CommandFailed(`no tenant named "${name}"`);
    return rows[0].id;
  };

  const examples = (cmd: Command, ...lines: string[]) => cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`);

  // ── tenants, tokens, keys (PostgreSQL) ────────────────────────────────────────────────────────
  const tenant = program.command('tenant').description('tenants (PostgreSQL: DATABASE_URL or the running npm start)');
  examples(
    tenant.command('create <name>').description('create a tenant (DNS-1123 name), or show the existing one').action(async (name: string, _o, cmd: Command) => {
      const valid = DnsName.safeParse(name);
      if (!valid.success) throw new CommandFailed(`tenant name: ${valid.error.issues[0]?.message}`);
      const created = await withDatabase((pool) => ensureTenant(pool, name));
      print(cmd, created, () => `tenant ${created.name} ${created.id}\n`);
    }),
    'meridian tenant create acme',
  );
  examples(
    tenant.command('list').description('list tenants').action(async (_o, cmd: Command) => {
      const rows = await withDatabase(async (pool) => (await pool.query<{ id: string; name: string }>('SELECT id, name FROM tenants ORDER BY name')).rows);
      print(cmd, rows, () => table(['NAME', 'ID'], rows.map((r) => [r.name, r.id])));
    }),
    'meridian tenant list --json',
  );

  const token = program.command('token').description('admin tokens of a tenant (PostgreSQL)');
  examples(
    token
      .command('create')
      .description('create an admin token; it is printed once')
      .requiredOption('--tenant <name>', 'tenant name')
      .option('--name <label>', 'label, to revoke it later')
      .action(async (o: { tenant: string; name?: string }, cmd: Command) => {
        const issued = await withDatabase(async (pool) => createAdminToken(pool, await tenantId(pool, o.tenant), o.name ?? `cli-${new Date().toISOString()}`));
        print(cmd, { token: issued }, () => `${issued}\n`);
        io.err('(shown once; only its hash is stored)\n');
      }),
    'meridian token create --tenant acme --name ops',
  );
  examples(
    token
      .command('revoke')
      .description('revoke an admin token')
      .requiredOption('--tenant <name>', 'tenant name')
      .requiredOption('--name <label>', 'label given at creation')
      .action(async (o: { tenant: string; name: string }, cmd: Command) => {
        const revoked = await withDatabase(
          async (pool) =>
            (await pool.query('UPDATE admin_tokens SET revoked_at = now() WHERE tenant_id = $1 AND name = $2 AND revoked_at IS NULL', [await tenantId(pool, o.tenant), o.name]))
              .rowCount,
        );
        if (!revoked) throw new CommandFailed('no such live token');
        print(cmd, { revoked: o.name }, () => 'revoked\n');
      }),
    'meridian token revoke --tenant acme --name ops',
  );

  const keys = program.command('keys').description('encryption keys of secrets at rest (PostgreSQL and the key file)');
  const keyringOf = (config: ReturnType<typeof loadConfig>) => loadKeyring(config.dataDir, config.encryptionKey, config.previousEncryptionKeys);
  examples(
    keys.command('list').description('keys and how many stored secrets each one seals').action(async (_o, cmd: Command) => {
      const rows = await withDatabase(async (pool, config) => {
        const keyring = keyringOf(config);
        const usage = await keyUsage(pool);
        return [
          ...[...keyring.keys.keys()].map((id) => ({ id, role: id === keyring.current ? 'current' : 'previous', secrets: usage.get(id) ?? 0 })),
          ...[...usage].filter(([id]) => !keyring.keys.has(id)).map(([id, secrets]) => ({ id, role: 'MISSING', secrets })),
        ];
      });
      print(cmd, rows, () => rows.map((r) => `${r.id}\t${r.role}\t${r.secrets} secrets\n`).join(''));
    }),
    'meridian keys list',
  );
  examples(
    keys.command('rotate').description('a new current key (key file), then every secret re-encrypted under it').action(async (_o, cmd: Command) => {
      const result = await withDatabase(async (pool, config) => {
        const keyring = keyringOf(config);
        const added = keyring.file ? addKey(keyring) : undefined;
        return { newKey: added, current: keyring.current, reencrypted: await reencryptAll(pool, keyring) };
      });
      print(
        cmd,
        result,
        () =>
          `${result.newKey ? `new current key ${result.newKey}\n` : `re-encrypting under MERIDIAN_ENCRYPTION_KEY (${result.current})\n`}re-encrypted ${result.reencrypted} secrets; every secret is now sealed under ${result.current}\n`,
      );
    }),
    'meridian keys rotate && meridian keys list',
  );
  examples(
    keys
      .command('prune')
      .description('drop keys that seal nothing any more (wait one runtime-token lifetime, 60 min, after a rotation)')
      .action(async (_o, cmd: Command) => {
        const result = await withDatabase(async (pool, config) => {
          const keyring = keyringOf(config);
          const usage = await keyUsage(pool);
          const previous = [...keyring.keys.keys()].filter((id) => id !== keyring.current);
          const unused = previous.filter((id) => !usage.get(id));
          if (keyring.file) removeKeys(keyring, unused);
          return { removed: keyring.file ? unused : [], unused, inUse: previous.filter((id) => usage.get(id)), file: Boolean(keyring.file) };
        });
        print(cmd, result, () => {
          const lines = [result.unused.length ? `${result.file ? 'removed' : 'unused (remove them from MERIDIAN_ENCRYPTION_PREVIOUS_KEYS)'}: ${result.unused.join(', ')}` : 'no unused key'];
          if (result.inUse.length) lines.push(`still sealing secrets (run keys rotate first): ${result.inUse.join(', ')}`);
          return `${lines.join('\n')}\n`;
        });
      }),
    'meridian keys prune',
  );

  // ── applications and runtimes (admin API) ─────────────────────────────────────────────────────
  const appColumns = ['ID', 'NAME', 'CONDITION', 'SCENARIOS', 'CREATED'];
  const appRow = (a: any) => [a.id, a.name, a.status.condition, a.scenarios, a.createdAt];
  const runtimeColumns = ['ID', 'NAME', 'PROVIDER', 'CONDITION', 'SCENARIOS', 'EVENT URL'];
  const runtimeRow = (r: any) => [r.id, r.name, r.provider, r.status.condition, r.scenarios, r.eventUrl];
  const listQuery = (o: { scenario?: string; label?: string[] }) =>
    [o.scenario && `scenario=${encodeURIComponent(o.scenario)}`, ...(o.label ?? []).map((l) => `label=${encodeURIComponent(l)}`)].filter(Boolean).join('&');
  const listAll = async (cmd: Command, kind: string, query: string) => {
    const items: any[] = [];
    for (let cursor: string | null = ''; cursor !== null; ) {
      const page: { items: any[]; nextCursor: string | null } = await admin(cmd, 'GET', `/v1/${kind}?limit=100${query ? `&${query}` : ''}${cursor ? `&cursor=${cursor}` : ''}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    }
    return items;
  };

  /** `<noun> list [--scenario] [--label]`: every page, as one table. */
  const listCommand = (parent: Command, kind: 'applications' | 'runtimes', columns: string[], row: (item: any) => Parameters<typeof table>[1][number]) =>
    examples(
      parent
        .command('list')
        .description(`list ${kind}`)
        .option('--scenario <name>', 'only members of this scenario')
        .option('--label <key=value>', 'only with this label (repeatable)', collect)
        .action(async (o: { scenario?: string; label?: string[] }, cmd: Command) => {
          const items = await listAll(cmd, kind, listQuery(o));
          print(cmd, items, () => table(columns, items.map(row)));
        }),
      `meridian ${parent.name()} list --scenario DEFAULT --json`,
    );

  const app = program.command('app').description('applications (admin)');
  examples(
    app
      .command('create <name>')
      .description('create an application')
      .option('--description <text>', 'description')
      .option('--scenario <name>', 'scenario to join (repeatable; default DEFAULT)', collect)
      .option('--label <key=value>', 'label (repeatable; value parsed as JSON when it can be)', collect)
      .action(async (name: string, o: { description?: string; scenario?: string[]; label?: string[] }, cmd: Command) => {
        const labels = Object.fromEntries(Object.entries(pairs(o.label, '--label')).map(([k, v]) => [k, jsonValue(v)]));
        const created = await admin(cmd, 'POST', '/v1/applications', { name, description: o.description, scenarios: o.scenario, labels });
        print(cmd, created, () => table(appColumns, [appRow(created)]));
      }),
    'meridian app create billing --scenario DEFAULT --label team=payments',
  );
  listCommand(app, 'applications', appColumns, appRow);
  examples(
    app.command('show <app>').description('one application, by id or name').action(async (ref: string, _o, cmd: Command) => {
      const a = await resolve(cmd, 'applications', ref);
      print(cmd, a, () =>
        details([
          ['id', a.id],
          ['name', a.name],
          ['description', a.description],
          ['condition', a.status.condition],
          ['scenarios', a.scenarios],
          ['labels', JSON.stringify(a.labels)],
          ['created', a.createdAt],
        ]),
      );
    }),
    'meridian app show billing',
  );
  examples(
    app.command('delete <app>').description('unregister an application (by id or name)').action(async (ref: string, _o, cmd: Command) => {
      const op = await admin(cmd, 'DELETE', `/v1/applications/${(await resolve(cmd, 'applications', ref)).id}`);
      print(cmd, op, () => showOperation(cmd, op));
    }),
    'meridian app delete billing',
  );
  examples(
    app.command('pair <app>').description('a one-time pairing token for the application (give it to `meridian connect`)').action(async (ref: string, _o, cmd: Command) => {
      const pairing = await admin(cmd, 'POST', `/v1/applications/${(await resolve(cmd, 'applications', ref)).id}/pairing`);
      print(cmd, pairing, () =>
        details([
          ['token', pairing.token],
          ['expires', pairing.expiresAt],
          ['connector', pairing.connectorUrl],
          ['operation', pairing.operationId],
          ['next', `meridian connect --token ${pairing.token} --dir <dir>`],
        ]),
      );
    }),
    'meridian app pair billing',
  );

  const runtime = program.command('runtime').description('runtimes (admin)');
  examples(
    runtime
      .command('create <name>')
      .description('create and provision a runtime')
      .addOption(new Option('--provider <provider>', 'runtime provider').choices(['local', 'simulated']).default('local'))
      .option('--scenario <name>', 'scenario to join (repeatable)', collect)
      .option('--label <key=value>', 'label (repeatable)', collect)
      .option('--description <text>', 'description')
      .option('--poll-interval <seconds>', 'how often its agent polls its configuration', (v) => {
        if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a number of seconds');
        return Number(v);
      })
      .option('--wait', 'follow the provisioning stages until it is done')
      .action(async (name: string, o: { provider: string; scenario?: string[]; label?: string[]; description?: string; pollInterval?: number; wait?: boolean }, cmd: Command) => {
        const labels = Object.fromEntries(Object.entries(pairs(o.label, '--label')).map(([k, v]) => [k, jsonValue(v)]));
        const created = await admin(cmd, 'POST', '/v1/runtimes', {
          name,
          provider: o.provider,
          scenarios: o.scenario,
          labels,
          description: o.description,
          pollIntervalSeconds: o.pollInterval,
        });
        if (o.wait) return watch(cmd, created.operation.id);
        print(cmd, created, () => `${table(runtimeColumns, [runtimeRow(created.runtime)])}operation ${created.operation.id}: meridian op watch ${created.operation.id}\n`);
      }),
    'meridian runtime create edge-1 --scenario DEFAULT --wait',
    'meridian runtime create sim-1 --provider simulated --poll-interval 10',
  );
  listCommand(runtime, 'runtimes', runtimeColumns, runtimeRow);
  examples(
    runtime.command('show <runtime>').description('one runtime, by id or name').action(async (ref: string, _o, cmd: Command) => {
      const r = await resolve(cmd, 'runtimes', ref);
      print(cmd, r, () =>
        details([
          ['id', r.id],
          ['name', r.name],
          ['provider', r.provider],
          ['condition', r.status.condition],
          ['message', r.status.message],
          ['scenarios', r.scenarios],
          ['event url', r.eventUrl],
          ['agent', uiLink(cmd, `agent:${r.id}`)],
          ['created', r.createdAt],
        ]),
      );
    }),
    'meridian runtime show edge-1',
  );
  examples(
    runtime
      .command('delete <runtime>')
      .description('deprovision a runtime (by id or name)')
      .option('--wait', 'follow the deprovisioning until it is done')
      .action(async (ref: string, o: { wait?: boolean }, cmd: Command) => {
        const op = await admin(cmd, 'DELETE', `/v1/runtimes/${(await resolve(cmd, 'runtimes', ref)).id}`);
        if (o.wait) return watch(cmd, op.id);
        print(cmd, op, () => showOperation(cmd, op));
      }),
    'meridian runtime delete edge-1 --wait',
  );

  const scenario = program.command('scenario').description('scenarios and memberships (admin)');
  examples(
    scenario.command('create <name>').description('create a scenario').action(async (name: string, _o, cmd: Command) => {
      const created = await admin(cmd, 'POST', '/v1/scenarios', { name });
      print(cmd, created, () => `scenario ${created.name}\n`);
    }),
    'meridian scenario create payments',
  );
  examples(
    scenario.command('list').description('list scenarios').action(async (_o, cmd: Command) => {
      const items = await listAll(cmd, 'scenarios', '');
      print(cmd, items, () => table(['NAME', 'CREATED'], items.map((s) => [s.name, s.createdAt])));
    }),
    'meridian scenario list',
  );
  examples(
    scenario.command('delete <name>').description('delete an unused scenario').action(async (name: string, _o, cmd: Command) => {
      await admin(cmd, 'DELETE', `/v1/scenarios/${encodeURIComponent(name)}`);
      print(cmd, { deleted: name }, () => `deleted ${name}\n`);
    }),
    'meridian scenario delete payments',
  );
  examples(
    scenario
      .command('set <kind> <ref> [names...]')
      .description('replace the scenarios of an app or a runtime')
      .action(async (kind: string, ref: string, names: string[], _o, cmd: Command) => {
        const path_ = kindPath(kind);
        const updated = await admin(cmd, 'PUT', `/v1/${path_}/${(await resolve(cmd, path_, ref)).id}/scenarios`, names);
        print(cmd, updated, () => `${updated.name}: ${updated.scenarios.join(', ') || '(none)'}\n`);
      }),
    'meridian scenario set app billing payments DEFAULT',
    'meridian scenario set runtime edge-1 payments',
  );

  const label = program.command('label').description('labels of apps and runtimes (admin)');
  examples(
    label.command('set <kind> <ref> <key> <value>').description('set a label (value parsed as JSON when it can be)').action(async (kind: string, ref: string, key: string, value: string, _o, cmd: Command) => {
      const path_ = kindPath(kind);
      await admin(cmd, 'PUT', `/v1/${path_}/${(await resolve(cmd, path_, ref)).id}/labels/${encodeURIComponent(key)}`, jsonValue(value));
      print(cmd, { [key]: jsonValue(value) }, () => `${key}=${value}\n`);
    }),
    'meridian label set app billing tier \'"gold"\'',
  );
  examples(
    label.command('delete <kind> <ref> <key>').description('remove a label').action(async (kind: string, ref: string, key: string, _o, cmd: Command) => {
      const path_ = kindPath(kind);
      await admin(cmd, 'DELETE', `/v1/${path_}/${(await resolve(cmd, path_, ref)).id}/labels/${encodeURIComponent(key)}`);
      print(cmd, { deleted: key }, () => `deleted ${key}\n`);
    }),
    'meridian label delete runtime edge-1 tier',
  );

  const op = program.command('op').description('operations (admin)');
  examples(
    op.command('show <id>').description('an operation and the Temporal UI URL of its workflow').action(async (id: string, _o, cmd: Command) => {
      const found = await admin(cmd, 'GET', `/v1/operations/${id}`);
      print(cmd, { ...found, temporalUiUrl: uiLink(cmd, found.workflowId) }, () => showOperation(cmd, found));
    }),
    'meridian op show 5f0c…',
  );
  examples(
    op.command('watch <id>').description('follow an operation stage by stage until it is done; exit 1 when it FAILED').action(async (id: string, _o, cmd: Command) => watch(cmd, id)),
    'meridian op watch 5f0c…',
  );

  // ── application side (mTLS) ───────────────────────────────────────────────────────────────────
  examples(
    program
      .command('connect')
      .description('pair as an application: key, CSR and certificate, stored in --dir')
      .requiredOption('--token <token>', 'the pairing token (meridian app pair)')
      .option('--connector-url <url>', 'signing-request URL (default: <url>/connector/v1/signing-request)')
      .action(async (o: { token: string; connectorUrl?: string }, cmd: Command) => {
        const { dir, url } = globals(cmd);
        const credentials = await connect(o.connectorUrl ?? `${url}/connector/v1/signing-request`, o.token).catch((error: Error & { status?: number; problem?: ApiError['problem'] }) => {
          throw error.status ? new ApiError(error.status, error.problem) : error;
        });
        saveCredentials(dir, credentials);
        const me = await asApplication(cmd, async (client) => ok(await client.request('GET', '/v1/application')));
        print(cmd, { id: me.id, name: me.name, dir, mtlsBaseUrl: credentials.mtlsBaseUrl }, () => `connected as ${me.name} (${me.id}); key and certificate in ${dir}\n`);
      }),
    'meridian connect --token <token> --dir ./billing-certs',
  );

  const definitionColumns = ['ID', 'NAME', 'SPEC', 'STATUS', 'MESSAGE'];
  const definitionRow = (d: any) => [d.id, d.name, d.spec ? `${d.spec.type}/${d.spec.format}` : undefined, d.spec?.status, d.spec?.message];
  const specOf = (o: { specFile?: string; specUrl?: string; specType?: string; specFormat?: string }, defaultType: string) => {
    if (!o.specFile && !o.specUrl) return undefined;
    const source = o.specFile ?? o.specUrl!;
    const format = o.specFormat ?? (/\.ya?ml$/i.test(source) ? 'YAML' : /\.(xml|edmx)$/i.test(source) ? 'XML' : 'JSON');
    return { type: o.specType ?? defaultType, format, ...(o.specFile ? { data: fs.readFileSync(o.specFile, 'utf8') } : { fetchUrl: o.specUrl }) };
  };
  const api = program.command('api').description("the application's API definitions (mTLS)");
  examples(
    api
      .command('register <name>')
      .description('register an API (the spec is validated before the answer)')
      .requiredOption('--target-url <url>', 'where the API is served')
      .option('--description <text>', 'description')
      .option('--spec-file <file>', 'OpenAPI or OData document')
      .option('--spec-url <url>', 'or where Meridian fetches it')
      .addOption(new Option('--spec-type <type>', 'spec type').choices(['OPENAPI', 'ODATA']))
      .addOption(new Option('--spec-format <format>', 'spec format (default from the file name)').choices(['JSON', 'YAML', 'XML']))
      .action(async (name: string, o: { targetUrl: string; description?: string; specFile?: string; specUrl?: string; specType?: string; specFormat?: string }, cmd: Command) => {
        const body = { name, targetUrl: o.targetUrl, description: o.description, spec: specOf(o, 'OPENAPI') };
        const created = await asApplication(cmd, async (client) => ok(await client.request('POST', '/v1/application/apis', body)));
        print(cmd, created, () => table(definitionColumns, [definitionRow(created)]));
        if (created.spec?.status === 'FAILED') throw new CommandFailed(`the spec was refused: ${created.spec.message}`);
      }),
    'meridian api register orders --target-url https://billing.example.com/api --spec-file openapi.yaml',
  );
  examples(
    api.command('list').description("the application's APIs").action(async (_o, cmd: Command) => {
      const page = await asApplication(cmd, async (client) => ok(await client.request('GET', '/v1/application/apis')));
      print(cmd, page.items, () => table(definitionColumns, page.items.map(definitionRow)));
    }),
    'meridian api list',
  );
  const event = program.command('event').description("the application's event definitions (mTLS)");
  examples(
    event
      .command('register <name>')
      .description('register an event definition (AsyncAPI)')
      .option('--description <text>', 'description')
      .option('--spec-file <file>', 'AsyncAPI document')
      .option('--spec-url <url>', 'or where Meridian fetches it')
      .addOption(new Option('--spec-format <format>', 'spec format (default from the file name)').choices(['JSON', 'YAML']))
      .action(async (name: string, o: { description?: string; specFile?: string; specUrl?: string; specFormat?: string }, cmd: Command) => {
        const created = await asApplication(cmd, async (client) => ok(await client.request('POST', '/v1/application/events', { name, description: o.description, spec: specOf(o, 'ASYNCAPI') })));
        print(cmd, created, () => table(definitionColumns, [definitionRow(created)]));
        if (created.spec?.status === 'FAILED') throw new CommandFailed(`the spec was refused: ${created.spec.message}`);
      }),
    'meridian event register order-created --spec-file asyncapi.yaml',
  );

  const webhook = program.command('webhook').description("the application's webhooks (mTLS)");
  examples(
    webhook
      .command('add <url>')
      .description('receive runtime.connected, runtime.removed and configuration.changed at <url>')
      .option('--secret <secret>', 'sign deliveries with HMAC-SHA256 (16+ characters)')
      .action(async (url: string, o: { secret?: string }, cmd: Command) => {
        const created = await asApplication(cmd, async (client) => ok(await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url, secret: o.secret })));
        print(cmd, created, () => `webhook ${created.id} → ${created.url}${created.hasSecret ? ' (signed)' : ''}\n`);
      }),
    'meridian webhook add https://billing.example.com/meridian --secret "$WEBHOOK_SECRET"',
  );

  const credentials = program.command('credentials').description('credentials the application gives runtimes for its APIs (mTLS)');
  examples(
    credentials
      .command('list')
      .description('credential slots: one per (API, runtime) pair of a shared scenario')
      .addOption(new Option('--status <status>', 'only slots in this status').choices(['PENDING', 'SUCCEEDED', 'FAILED', 'UNUSED']))
      .action(async (o: { status?: string }, cmd: Command) => {
        const page = await asApplication(cmd, async (client) => ok(await client.request('GET', `/v1/application/credentials?limit=100${o.status ? `&status=${o.status}` : ''}`)));
        print(cmd, page.items, () => table(['API', 'API ID', 'RUNTIME', 'RUNTIME ID', 'STATUS', 'UPDATED'], page.items.map((s: any) => [s.apiName, s.apiId, s.runtimeName, s.runtimeId, s.status, s.updatedAt])));
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
      .action(async (apiId: string, runtimeId: string, o: Record<string, any>, cmd: Command) => {
        const at = typeof o.basic === 'string' ? o.basic.indexOf(':') : -1;
        if (o.basic !== undefined && at < 1) throw new UsageError('--basic must be user:password', cmd);
        const body = {
          ...(o.basic !== undefined && { basic: { username: o.basic.slice(0, at), password: o.basic.slice(at + 1) } }),
          ...(o.bearer !== undefined && { bearer: { token: o.bearer } }),
          ...((o.oauthClientId ?? o.oauthClientSecret ?? o.oauthTokenUrl) !== undefined && {
            oauth: { clientId: o.oauthClientId, clientSecret: o.oauthClientSecret, tokenUrl: o.oauthTokenUrl },
          }),
          ...(o.header && { headers: pairs(o.header, '--header') }),
          ...(o.query && { queryParams: pairs(o.query, '--query') }),
        };
        const slot = await asApplication(cmd, async (client) => ok(await client.request('PUT', `/v1/application/apis/${apiId}/credentials/${runtimeId}`, body)));
        print(cmd, slot, () => `${slot.apiName ?? slot.apiId} → ${slot.runtimeName ?? slot.runtimeId}: ${slot.status}\n`);
      }),
    'meridian credentials set <apiId> <runtimeId> --basic svc-edge:s3cret --header X-Tenant=acme',
    'meridian credentials set <apiId> <runtimeId> --oauth-client-id edge --oauth-client-secret s3cret --oauth-token-url https://idp.example.com/token',
  );
  examples(
    credentials.command('clear <apiId> <runtimeId>').description('clear them (the slot is PENDING again)').action(async (apiId: string, runtimeId: string, _o, cmd: Command) => {
      await asApplication(cmd, async (client) => ok(await client.request('DELETE', `/v1/application/apis/${apiId}/credentials/${runtimeId}`)));
      print(cmd, { cleared: { apiId, runtimeId } }, () => 'cleared\n');
    }),
    'meridian credentials clear <apiId> <runtimeId>',
  );
  examples(
    program
      .command('config')
      .description("the application's configuration: runtimes of its scenarios, their status and eventUrl")
      .action(async (_o, cmd: Command) => {
        const config = await asApplication(cmd, async (client) => ok(await client.request('GET', '/v1/application/configuration')));
        print(cmd, config, () => `configVersion ${config.configVersion}\n${table(['RUNTIME', 'ID', 'STATUS', 'EVENT URL', 'SCENARIOS'], config.runtimes.map((r: any) => [r.name, r.id, r.status, r.eventUrl, r.scenarios]))}`);
      }),
    'meridian --dir ./billing-certs config --json',
  );

  return program;
}

function kindPath(kind: string): 'applications' | 'runtimes' {
  if (kind === 'app' || kind === 'application') return 'applications';
  if (kind === 'runtime') return 'runtimes';
  throw new UsageError(`<kind> must be app or runtime, got "${kind}"`);
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
