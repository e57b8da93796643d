// `meridian template …` in-process against the real API and a worker: create from a file, list, show,
// apply with --set until the specs are registered, refusals with exit code 1, delete.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/program.js';
import { openApi30 } from './fixtures/specs.js';
import { createTenant, receiver, startTestApi, tempDir, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
let specServer: Awaited<ReturnType<typeof receiver>>;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  specServer = await receiver((req) => (req.url === '/openapi.json' ? { status: 200, body: JSON.stringify(openApi30) } : 404));
  const { token } = await createTenant(api.pool);
  env = { MERIDIAN_URL: api.url, MERIDIAN_TOKEN: token, MERIDIAN_TEMPORAL_UI: 'http://ui.test' };
});
afterAll(async () => {
  await specServer?.close();
  await api?.stop();
});

/** Runs one command line in-process; stdout, stderr and the exit code. */
async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), interactive: false }, env);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

describe('meridian template', () => {
  it('creates a template from a file, lists and shows it, applies it with --set until its spec is registered, and deletes it', async () => {
    const name = uniqueName('shop');
    const file = path.join(tempDir('cli-template'), 'shop.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        name,
        placeholders: [{ name: 'app', description: 'name of the application' }, { name: 'specs', description: 'where the spec is served' }],
        application: { name: '{{app}}', labels: { from: 'template' }, apis: [{ name: 'Orders', targetUrl: 'https://shop.example/api', spec: { type: 'OPENAPI', format: 'JSON', fetchUrl: '{{specs}}/openapi.json' } }] },
      }),
    );
    const created = await cli('template', 'create', file);
    expect([created.code, created.stderr]).toEqual([0, '']);
    expect(created.stdout).toMatch(new RegExp(`^template ${name} [0-9a-f-]{36}\nplaceholders: app, specs\n$`));
    expect((await cli('template', 'list')).stdout).toMatch(new RegExp(`^ID\\s+NAME\\s+PLACEHOLDERS\\s+CREATED\\n[0-9a-f-]{36}\\s+${name}\\s+app,specs\\s`));
    expect((await cli('template', 'show', name)).stdout).toMatch(/\{\{app\}\}\s+name of the application\n/);

    const missing = await cli('template', 'apply', name, '--set', 'app=shop-eu');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('error: missing values: specs\n  values.specs: is required: where the spec is served\n');

    const app = uniqueName('shop');
    const applied = await cli('--json', 'template', 'apply', name, '--set', `app=${app}`, '--set', `specs=${specServer.url}`, '--wait');
    expect([applied.code, applied.stderr]).toEqual([0, '']);
    expect(applied.json()).toMatchObject({ name: app, labels: { from: 'template' }, operations: [{ type: 'API_REGISTRATION', state: 'SUCCEEDED' }] });
    const human = await cli('template', 'apply', name, '--set', `app=${uniqueName('shop')}`, '--set', `specs=${specServer.url}/nowhere`, '--wait');
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^ID\s+NAME\s+CONDITION\s+SCENARIOS\s+CREATED\n.*\n\nOPERATION\s+DEFINITION\s+STATE\s+MESSAGE\n.*FAILED/);
    expect(human.stderr).toMatch(/^error: 1 spec registration\(s\) FAILED: .*HTTP 404/);

    expect((await cli('template', 'delete', name)).stdout).toBe(`deleted ${name}\n`);
    expect((await cli('template', 'show', name)).stderr).toBe(`error: no application template named "${name}"\n`);
    expect((await cli('template', 'create', path.join(path.dirname(file), 'none.json'))).stderr).toBe(`error: cannot read ${path.join(path.dirname(file), 'none.json')}: ENOENT\n`);
    expect((await cli('template', 'apply', '--help')).stdout).toContain('meridian template apply shop --set app=shop-eu --set region=eu --wait');
  });
});
