import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runCli } from '../cli/program.js';
import { MtlsClient, loadCredentials } from '../client/connector.js';
import { openApi30 } from './fixtures/specs.js';
import { call, createTenant, startTestApi, tempDir, uniqueName, type TestApi } from './helpers.js';

/** The real program in a child process, as `npm run meridian --` runs it. */
function meridian(...args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/meridian.ts', ...args], {
    env: { ...process.env, DATABASE_URL: inject('databaseUrl') },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
}

/** {@link meridian} without blocking this process (whose API it calls), with standard input and more environment. */
function meridianAsync(options: { input?: string; env?: NodeJS.ProcessEnv }, ...args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/meridian.ts', ...args], {
    env: { ...process.env, MERIDIAN_TOKEN: '', ...options.env },
    timeout: 30_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(options.input ?? '');
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (status) => resolve({ status, stdout: stdout.trim(), stderr: stderr.trim() })),
  );
}

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
});
afterAll(() => api.stop());

describe('meridian CLI as a program', () => {
  it('creates a tenant and a token that works once printed, and revokes it', async () => {
    const tenant = uniqueName('cli');
    const created = meridian('tenant', 'create', tenant);
    expect(created.status).toBe(0);
    expect(created.stdout).toMatch(new RegExp(`^tenant ${tenant} [0-9a-f-]{36}$`));
    expect(meridian('tenant', 'list').stdout).toContain(tenant);

    const issued = meridian('token', 'create', '--tenant', tenant, '--name', 'ops');
    expect(issued.status).toBe(0);
    expect(issued.stdout).toMatch(/^[\w-]{43}$/);
    expect((await call(`${api.url}/v1/applications`, { token: issued.stdout })).status).toBe(200);
    expect(meridian('token', 'revoke', '--tenant', tenant, '--name', 'ops').status).toBe(0);
    expect((await call(`${api.url}/v1/applications`, { token: issued.stdout })).status).toBe(401);
  });

  it('exits 2 with usage for wrong arguments and 1 for an unknown tenant', () => {
    const nothing = meridian();
    expect(nothing.status).toBe(2);
    expect(nothing.stderr).toContain('Usage: meridian');
    expect(nothing.stderr).not.toContain('--admin-token <token>');
    expect(meridian('tenant', 'create').stderr).toContain('Usage: meridian tenant create');
    expect(meridian('token', 'create').status).toBe(2);
    expect(meridian('no-such-command').status).toBe(2);
    expect(meridian('tenant', 'create', 'Bad Name').status).toBe(1);
    const missing = meridian('token', 'create', '--tenant', uniqueName('nobody'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no tenant named/);
  });

  it('takes the admin token from standard input or MERIDIAN_TOKEN, and refuses it as an argument without showing it', async () => {
    const { token } = await createTenant(api.pool);
    const fromStdin = await meridianAsync({ input: `${token}\n`, env: { MERIDIAN_URL: api.url } }, '--admin-token-file', '-', 'app', 'list', '--json');
    expect(fromStdin.status, fromStdin.stderr).toBe(0);
    expect(JSON.parse(fromStdin.stdout)).toEqual([]);
    expect((await meridianAsync({ env: { MERIDIAN_URL: api.url, MERIDIAN_TOKEN: token } }, 'app', 'list')).status).toBe(0);

    const refused = await meridianAsync({ env: { MERIDIAN_URL: api.url } }, '--admin-token', token, 'app', 'list');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--admin-token is not accepted: a secret on the command line is visible in ps and in shell history; set MERIDIAN_TOKEN or use --admin-token-file');
    expect(refused.stderr + refused.stdout).not.toContain(token);
  });

  it('answers --help on every command with examples, and runs as npx meridian', () => {
    const help = meridian('runtime', 'create', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('--wait');
    const npx = spawnSync('npx', ['meridian', 'op', 'watch', '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(npx.status).toBe(0);
    expect(npx.stdout).toContain('Usage: meridian op watch');
  });
});

/** The credentials a simulated runtime's configuration carries for one API, fetched with its own certificate. */
async function credentialsOf(runtimeId: string, apiId: string) {
  const client = new MtlsClient(loadCredentials(path.join(api.simulatedDir, runtimeId, 'credentials')));
  try {
    const res = await client.request('GET', '/v1/runtime/configuration');
    return res.body.applications.flatMap((a: { apis: Array<{ id: string; credentials?: unknown }> }) => a.apis).find((x: { id: string }) => x.id === apiId)?.credentials;
  } finally {
    client.close();
  }
}

describe('meridian CLI through the real API', () => {
  let env: NodeJS.ProcessEnv;
  let tenantId: string;
  beforeAll(async () => {
    const { tenant, token } = await createTenant(api.pool);
    tenantId = tenant.id;
    env = { MERIDIAN_URL: api.url, MERIDIAN_TOKEN: token, MERIDIAN_APP_DIR: path.join(tempDir('cli-app'), 'certs'), MERIDIAN_TEMPORAL_UI: 'http://ui.test', DATABASE_URL: inject('databaseUrl'), MERIDIAN_DATA_DIR: tempDir('cli-data') };
  });

  /** Runs one command line in-process; stdout, stderr and the exit code. */
  async function cli(...args: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), interactive: false }, env);
    return { code, stdout, stderr, json: () => JSON.parse(stdout) };
  }

  it('manages scenarios, applications and labels, as tables and as JSON', async () => {
    const scenario = uniqueName('S');
    expect((await cli('scenario', 'create', scenario)).code).toBe(0);
    expect((await cli('--json', 'scenario', 'list')).json().map((s: { name: string }) => s.name)).toContain(scenario);

    const name = uniqueName('app');
    const created = await cli('app', 'create', name, '--scenario', scenario, '--label', 'tier=1', '--description', 'from the CLI');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^ID\s+NAME\s+CONDITION\s+SCENARIOS\s+CREATED\n/);
    expect(created.stdout).toContain(name);
    const listed = (await cli('app', 'list', '--scenario', scenario, '--json')).json();
    expect(listed).toMatchObject([{ name, labels: { tier: 1 }, scenarios: [scenario] }]);
    expect((await cli('app', 'show', name)).stdout).toMatch(/description\s+from the CLI/);

    expect((await cli('label', 'set', 'app', name, 'team', '"payments"')).code).toBe(0);
    expect((await cli('label', 'delete', 'app', name, 'tier')).code).toBe(0);
    expect((await cli('app', 'show', listed[0].id, '--json')).json().labels).toEqual({ team: 'payments' });
    expect((await cli('scenario', 'set', 'app', name, 'DEFAULT', scenario)).stdout).toContain(`DEFAULT, ${scenario}`);

    const busy = await cli('scenario', 'delete', scenario);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/^error: scenario ".*" is still used by application/m);
    expect((await cli('app', 'delete', name, '--json')).json()).toMatchObject({ type: 'UNREGISTRATION', state: 'SUCCEEDED' });
    expect((await cli('scenario', 'delete', scenario)).code).toBe(0);
  });

  it('defines a label key, refuses a value that breaks it with the path, lists and undefines it', async () => {
    const key = `k_${uniqueName('x').slice(2).replace('-', '')}`;
    const defined = await cli('label', 'define', key, '{"type":"string","enum":["dev","prod"]}');
    expect([defined.code, defined.stdout]).toEqual([0, `${key}: {"type":"string","enum":["dev","prod"]}\n`]);
    const name = uniqueName('app');
    expect((await cli('app', 'create', name)).code).toBe(0);
    const refused = await cli('label', 'set', 'app', name, key, '"qa"');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`labels.${key} must be equal to one of the allowed values`);
    expect((await cli('label', 'set', 'app', name, key, '"prod"')).code).toBe(0);
    const narrowed = await cli('label', 'define', key, '{"const":"dev"}');
    expect([narrowed.code, narrowed.stderr]).toEqual([1, expect.stringContaining(`(${name}): labels.${key}`)]);
    expect((await cli('label', 'definitions')).stdout).toMatch(new RegExp(`^KEY\\s+SCHEMA\\s+UPDATED\\n(.*\\n)*${key}\\s+\\{"type"`));
    expect((await cli('label', 'undefine', key)).stdout).toBe(`${key} is no longer defined\n`);
    expect((await cli('label', 'undefine', key)).code).toBe(1);
    expect(meridian('label', 'define', '--help').stdout).toContain('Examples:');
  });

  it('assigns runtimes by label to a scenario, following the pass, lists and removes the assignment', async () => {
    const scenario = uniqueName('S');
    await cli('scenario', 'create', scenario);
    const rt = uniqueName('rt');
    expect((await cli('runtime', 'create', rt, '--provider', 'simulated', '--label', 'zone=7')).code).toBe(0);
    const assigned = await cli('scenario', 'assign', scenario, 'zone=7', '--wait');
    expect(assigned.code).toBe(0);
    expect(assigned.stderr).toMatch(/SCENARIO_ASSIGNMENT SUCCEEDED/);
    expect(assigned.stdout).toMatch(/progress\s+(\d+) of \1 runtimes examined, 1 joined, 0 left/);
    expect((await cli('--json', 'runtime', 'show', rt)).json()).toMatchObject({ scenarios: [scenario], assignedScenarios: [scenario] });
    expect((await cli('scenario', 'assignments', scenario)).stdout).toMatch(/^ID\s+KEY\s+VALUE\s+CREATED\n[0-9a-f-]{36}\s+zone\s+7\s/);
    expect((await cli('scenario', 'assign', scenario, 'zone')).code).toBe(2);
    expect((await cli('scenario', 'unassign', scenario, '--wait')).code).toBe(0);
    expect((await cli('--json', 'runtime', 'show', rt)).json()).toMatchObject({ scenarios: [] });
    expect((await cli('scenario', 'unassign', scenario)).code).toBe(1);
    expect(meridian('scenario', 'assign', '--help').stdout).toContain('meridian scenario assign payments env=prod --wait');
  });

  it('prints the problem detail and exits 1 when Meridian refuses; usage and exit 2 for wrong arguments', async () => {
    const name = uniqueName('dup');
    expect((await cli('app', 'create', name)).code).toBe(0);
    const duplicate = await cli('app', 'create', name);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toBe(`error: an application named "${name}" already exists in this tenant\n`);
    const invalid = await cli('app', 'create', 'Not_A_Name');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('name: must start with a lowercase letter');
    expect((await cli('app', 'show', uniqueName('none'))).stderr).toMatch(/no application named/);

    for (const args of [['app', 'create'], ['runtime', 'create', 'x', '--provider', 'bogus'], ['runtime', 'create', 'x', '--poll-interval', 'soon'], ['label', 'set', 'thing', 'x', 'k', 'v'], ['app'], ['op', 'watch']]) {
      const wrong = await cli(...args);
      expect(wrong.code, args.join(' ')).toBe(2);
      expect(wrong.stderr, args.join(' ')).toContain('Usage: meridian');
    }
    let noTokenErr = '';
    const noToken = await runCli(['app', 'list'], { out: () => undefined, err: (t) => (noTokenErr += t), interactive: false }, { ...env, MERIDIAN_TOKEN: '' });
    expect(noToken).toBe(2);
    expect(noTokenErr).toContain('an admin token is required: set MERIDIAN_TOKEN or use --admin-token-file <file>');
    const tokenFile = path.join(tempDir('cli-token'), 'token');
    fs.writeFileSync(tokenFile, `${env.MERIDIAN_TOKEN}\n`, { mode: 0o600 });
    const fromFile = await runCli(['--admin-token-file', tokenFile, 'app', 'list'], { out: () => undefined, err: () => undefined, interactive: false }, { ...env, MERIDIAN_TOKEN: '' });
    expect(fromFile).toBe(0);
  });

  it('creates a runtime following its stages, shows it and its operation with the Temporal UI link, and deletes it', async () => {
    const name = uniqueName('rt');
    const created = await cli('runtime', 'create', name, '--provider', 'simulated', '--scenario', 'DEFAULT', '--poll-interval', '600', '--wait');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toContain('http://ui.test/namespaces/default/workflows/provisioning%3A');
    expect(created.stderr).toMatch(/WAITING_FOR_AGENT|FINISHED/);
    expect(created.stderr).toMatch(/PROVISIONING SUCCEEDED \([\d.]+ s\)/);
    const op = JSON.parse((await cli('--json', 'runtime', 'list')).stdout).find((r: { name: string }) => r.name === name);
    expect(op.status.condition).toBe('CONNECTED');
    expect((await cli('runtime', 'show', name)).stdout).toMatch(/agent\s+http:\/\/ui\.test\/namespaces\/default\/workflows\/agent%3A/);

    const { rows } = await api.pool.query('SELECT id FROM operations WHERE resource_id = $1', [op.id]);
    const shown = await cli('op', 'show', rows[0].id, '--json');
    expect(shown.json()).toMatchObject({ state: 'SUCCEEDED', temporalUiUrl: `http://ui.test/namespaces/default/workflows/provisioning%3A${op.id}` });
    expect((await cli('op', 'watch', rows[0].id)).code).toBe(0);

    const deleted = await cli('runtime', 'delete', name, '--wait', '--json');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.json()).toMatchObject({ type: 'DEPROVISIONING', state: 'SUCCEEDED' });
  });

  it('op watch exits 1 with the reason when the operation FAILED, and 1 for an unknown one', async () => {
    const { rows } = await api.pool.query(
      `INSERT INTO operations (tenant_id, type, state, stage, message, resource_id, workflow_id, finished_at)
       VALUES ($1, 'PROVISIONING', 'FAILED', 'PROVISIONING', 'the provider gave up', gen_random_uuid(), 'provisioning:x', now()) RETURNING id`,
      [tenantId],
    );
    const failed = await cli('op', 'watch', rows[0].id);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('the provider gave up');
    const unknown = await cli('op', 'watch', '00000000-0000-4000-8000-000000000000');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: /m);
  });

  it('acts as an application: connect, register an API and an event, add a webhook, set and clear credentials, read its configuration', async () => {
    const name = uniqueName('shop');
    await cli('app', 'create', name);
    const pairing = (await cli('app', 'pair', name, '--json')).json();
    const asArgument = await cli('connect', '--token', pairing.token);
    expect(asArgument.code).toBe(2);
    expect(asArgument.stderr).toContain('--token is not accepted: a secret on the command line is visible in ps and in shell history; use --token-file');
    expect(asArgument.stderr).not.toContain(pairing.token);
    expect((await cli('connect')).stderr).toContain('the pairing token is required: --token-file <file> (- for standard input) or MERIDIAN_CONNECTOR_TOKEN');
    const secrets = tempDir('cli-secrets');
    const secretFile = (name: string, text: string) => {
      const file = path.join(secrets, name);
      fs.writeFileSync(file, text, { mode: 0o600 });
      return file;
    };
    const connected = await cli('connect', '--token-file', secretFile('pairing-token', `${pairing.token}\n`));
    expect(connected.code, connected.stderr).toBe(0);
    expect(connected.stdout).toContain(`connected as ${name}`);
    expect(fs.statSync(path.join(env.MERIDIAN_APP_DIR!, 'client.key')).mode & 0o777).toBe(0o600);
    expect((await cli('connect', '--token-file', secretFile('pairing-token', pairing.token))).code).toBe(1);

    const specFile = path.join(tempDir('cli-spec'), 'orders.json');
    fs.writeFileSync(specFile, JSON.stringify(openApi30));
    const registered = await cli('api', 'register', 'orders', '--target-url', 'http://127.0.0.1:9/api', '--spec-file', specFile, '--json');
    expect(registered.code, registered.stderr).toBe(0);
    const orders = registered.json();
    expect(orders.spec).toMatchObject({ type: 'OPENAPI', format: 'JSON', status: 'SUCCEEDED' });
    expect((await cli('api', 'list')).stdout).toMatch(/orders\s+OPENAPI\/JSON\s+SUCCEEDED/);
    expect((await cli('event', 'register', 'order-created')).code).toBe(0);
    const webhookSecretArgument = await cli('webhook', 'add', 'http://127.0.0.1:9/hook', '--secret', 'a-webhook-secret-123');
    expect(webhookSecretArgument.code).toBe(2);
    expect(webhookSecretArgument.stderr).toContain('--secret is not accepted');
    expect(webhookSecretArgument.stderr).not.toContain('a-webhook-secret-123');
    expect((await cli('webhook', 'add', 'http://127.0.0.1:9/hook', '--secret-file', secretFile('webhook', 'a-webhook-secret-123\n'))).stdout).toMatch(/\(signed\)/);

    const runtime = await cli('runtime', 'create', uniqueName('rt'), '--provider', 'simulated', '--scenario', 'DEFAULT', '--wait', '--json');
    const runtimeId = runtime.json().resourceId;
    const pending = (await cli('credentials', 'list', '--status', 'PENDING', '--json')).json();
    expect(pending).toMatchObject([{ apiId: orders.id, runtimeId, status: 'PENDING' }]);
    const password = secretFile('password', 'pa:ss\n');
    const set = await cli('credentials', 'set', orders.id, runtimeId, '--basic', 'edge', '--secret-file', password, '--header', 'X-Tenant=acme', '--query', 'v=2');
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('SUCCEEDED');
    expect(await credentialsOf(runtimeId, orders.id)).toEqual({ basic: { username: 'edge', password: 'pa:ss' }, headers: { 'X-Tenant': 'acme' }, queryParams: { v: '2' } });
    expect((await cli('credentials', 'list')).stdout).toMatch(/orders\s+\S+\s+\S+\s+\S+\s+SUCCEEDED/);
    const twoKinds = await cli('credentials', 'set', orders.id, runtimeId, '--basic', 'a', '--bearer', '--secret-file', password);
    expect(twoKinds.code).toBe(1);
    expect(twoKinds.stderr).toContain('give exactly one of basic, oauth and bearer');
    // Secrets as arguments are refused, and not shown.
    for (const args of [
      ['--basic', 'edge:pa55word-in-argv'],
      ['--bearer', 'pa55word-in-argv'],
      ['--oauth-client-id', 'edge', '--oauth-token-url', 'https://idp.example.com/token', '--oauth-client-secret', 'pa55word-in-argv'],
    ]) {
      const refused = await cli('credentials', 'set', orders.id, runtimeId, ...args);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr, args.join(' ')).toMatch(/visible in ps and in shell history.*--secret-file <file> \(- for standard input\) or MERIDIAN_CREDENTIAL_SECRET/);
      expect(refused.stderr).not.toContain('pa55word-in-argv');
    }
    expect((await cli('credentials', 'set', orders.id, runtimeId, '--bearer')).stderr).toContain('the token is required: --secret-file');
    // From the environment: the runtime gets exactly that secret.
    env.MERIDIAN_CREDENTIAL_SECRET = 'from-the-environment';
    try {
      expect((await cli('credentials', 'set', orders.id, runtimeId, '--bearer')).code).toBe(0);
    } finally {
      delete env.MERIDIAN_CREDENTIAL_SECRET;
    }
    expect(await credentialsOf(runtimeId, orders.id)).toEqual({ bearer: { token: 'from-the-environment' } });
    expect((await cli('credentials', 'clear', orders.id, runtimeId)).code).toBe(0);

    const config = await cli('config', '--json');
    expect(config.json().runtimes).toMatchObject([{ id: runtimeId, status: 'CONNECTED', eventUrl: expect.any(String) }]);
    expect((await cli('config')).stdout).toMatch(/^configVersion \d+\nRUNTIME\s+ID\s+STATUS\s+EVENT URL\s+SCENARIOS\n/);
  });

  it('lists encryption keys and what they seal', async () => {
    const keys = await cli('keys', 'list', '--json');
    expect(keys.code, keys.stderr).toBe(0);
    expect(keys.json()[0]).toMatchObject({ role: 'current', id: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });
});
