import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MtlsClient, loadCredentials } from '../client/connector.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { webhookSecretBinding } from '../db/webhooks.js';
import { keyFile, loadKeyring, open, seal } from '../trust/encryption.js';
import { call, emptyDatabase, pairedApplication, startTestApi, tempDir, uniqueName, type TestApi } from './helpers.js';

// Its own database and key file: rotation re-encrypts every secret of a database, and must not
// touch what other test files sealed under the run's key.
let api: TestApi;
let dataDir: string;
let databaseUrl: string;
beforeAll(async () => {
  dataDir = tempDir('keys');
  databaseUrl = await emptyDatabase();
  const pool = createPool(databaseUrl);
  await migrate(pool);
  await pool.end();
  api = await startTestApi({ databaseUrl, keyring: loadKeyring(dataDir), worker: true });
});
afterAll(() => api.stop());

async function meridian(...args: string[]) {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/meridian.ts', ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, MERIDIAN_DATA_DIR: dataDir, MERIDIAN_ENCRYPTION_KEY: '' },
    timeout: 30_000,
  });
  return stdout.trim();
}

const keyIdsInFile = () => fs.readFileSync(keyFile(dataDir), 'utf8').trim().split('\n').length;

describe('encryption key rotation', () => {
  it('re-encrypts every secret under a new key; old and new credentials decrypt; the old key can be removed', async () => {
    const app = await pairedApplication(api);
    const token = app.adminToken;
    expect((await app.client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: 'http://127.0.0.1:9/hook', secret: 'webhook-secret-0123456789' })).status).toBe(201);
    const first = (await app.client.request('POST', '/v1/application/apis', { name: 'first', targetUrl: 'http://127.0.0.1:9/a' })).body;
    const second = (await app.client.request('POST', '/v1/application/apis', { name: 'second', targetUrl: 'http://127.0.0.1:9/b', defaultCredentials: { bearer: { token: 'default-b' } } })).body;
    const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated', scenarios: ['DEFAULT'], pollIntervalSeconds: 600 } });
    const runtimeId: string = created.body.runtime.id;
    await expect.poll(async () => (await call(`${api.url}/v1/runtimes/${runtimeId}`, { token })).body.status.condition, { timeout: 60_000 }).toBe('CONNECTED');
    const set = (apiId: string, body: unknown) => app.client.request('PUT', `/v1/application/apis/${apiId}/credentials/${runtimeId}`, body);

    // Set under the first key, then a rotation; then set again under the new one.
    expect((await set(first.id, { basic: { username: 'old', password: 'old-password' } })).status).toBe(200);
    const oldKey = loadKeyring(dataDir).current;
    const rotated = await meridian('keys', 'rotate');
    const newKey = loadKeyring(dataDir).current;
    expect(newKey).not.toBe(oldKey);
    expect(rotated).toContain(`new current key ${newKey}`);
    expect(rotated).toContain('re-encrypted 4 secrets');
    expect(keyIdsInFile()).toBe(2);
    expect((await set(second.id, { bearer: { token: 'new-token' } })).status).toBe(200);

    const sealedUnder = async () =>
      (
        await api.pool.query(
          `SELECT secret_key_id AS k FROM webhooks UNION ALL SELECT secret_key_id FROM credential_slots WHERE secret_key_id IS NOT NULL
           UNION ALL SELECT default_credentials_key_id FROM definitions WHERE default_credentials_key_id IS NOT NULL`,
        )
      ).rows.map((r) => r.k);
    expect(await sealedUnder()).toEqual([newKey, newKey, newKey, newKey]);

    const configuration = async () => {
      const client = new MtlsClient(loadCredentials(path.join(api.simulatedDir, runtimeId, 'credentials')));
      try {
        const res = await client.request('GET', '/v1/runtime/configuration');
        return Object.fromEntries(res.body.applications[0].apis.map((x: { name: string; credentials: unknown }) => [x.name, x.credentials]));
      } finally {
        client.close();
      }
    };
    const expected = { first: { basic: { username: 'old', password: 'old-password' } }, second: { bearer: { token: 'new-token' } } };
    expect(await configuration()).toEqual(expected);

    // The old key seals nothing now: pruning removes it, and everything still decrypts.
    expect(await meridian('keys', 'list')).toMatch(new RegExp(`${oldKey}\\tprevious\\t0 secrets`));
    expect(await meridian('keys', 'prune')).toContain(`removed: ${oldKey}`);
    expect(keyIdsInFile()).toBe(1);
    expect([...loadKeyring(dataDir).keys.keys()]).toEqual([newKey]);
    await set(first.id, { basic: { username: 'old', password: 'old-password' } });
    expect(await configuration()).toEqual(expected);
    const webhook = await api.pool.query('SELECT id, tenant_id, secret_ciphertext, secret_key_id FROM webhooks');
    const [hook] = webhook.rows;
    expect(open(loadKeyring(dataDir), { ciphertext: hook.secret_ciphertext, keyId: hook.secret_key_id, boundTo: [webhookSecretBinding(hook.tenant_id, hook.id)] })).toBe(
      'webhook-secret-0123456789',
    );

    // A process that has not seen a rotation yet seals under the key before it: prune keeps that key and names it.
    const stale = { ...loadKeyring(dataDir), file: undefined };
    expect(await meridian('keys', 'rotate')).toContain('re-encrypted 4 secrets');
    const current = loadKeyring(dataDir).current;
    const late = seal(stale, JSON.stringify({ bearer: { token: 'late-token' } }));
    await api.pool.query('UPDATE credential_slots SET secret_ciphertext = $1, secret_key_id = $2 WHERE api_id = $3', [late.ciphertext, late.keyId, second.id]);
    expect(await meridian('keys', 'prune')).toContain(`still sealing secrets (run keys rotate first): ${newKey}`);
    expect([...loadKeyring(dataDir).keys.keys()]).toEqual([current, newKey]);
    await set(first.id, { basic: { username: 'newest', password: 'p' } });
    expect(await configuration()).toEqual({ first: { basic: { username: 'newest', password: 'p' } }, second: { bearer: { token: 'late-token' } } });
  });
});
