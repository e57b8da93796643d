import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApplication } from '../db/applications.js';
import { credentialsOfRuntime, setCredentials, slotBinding } from '../db/credentials.js';
import { defaultCredentialsBinding, insertDefinition } from '../db/definitions.js';
import { reencryptAll } from '../db/keys.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { createRuntime } from '../db/runtimes.js';
import { ensureTenant } from '../db/tenants.js';
import { insertWebhook, webhookSecretBinding, webhookTarget } from '../db/webhooks.js';
import { BOUND, DecryptionFailed, addKey, loadKeyring, open, seal, type Binding, type Keyring } from '../trust/encryption.js';
import { call, emptyDatabase, pairedApplication, startTestApi, tempDir, uniqueName, type TestApi } from './helpers.js';

const PASSWORD = 'pa55-never-in-an-error';
const credentials = JSON.stringify({ basic: { username: 'edge', password: PASSWORD } });

/** What open() threw, to assert on its type and message. */
function openFailure(keyring: Keyring, sealed: Parameters<typeof open>[1]): Error {
  try {
    open(keyring, sealed);
  } catch (error) {
    return error as Error;
  }
  throw new Error('it opened');
}

describe('a sealed secret bound to its table, row and tenant', () => {
  const keyring = loadKeyring(tempDir('binding'));
  const slot: Binding = { table: 'credential_slots', row: `${randomUUID()}/${randomUUID()}`, tenant: randomUUID() };

  it('opens where it was sealed for, and nowhere else, with an error that names the place and not the secret', () => {
    const sealed = seal(keyring, credentials, slot);
    expect(sealed.ciphertext.subarray(0, BOUND.length)).toEqual(BOUND);
    expect(open(keyring, { ...sealed, boundTo: [slot] })).toBe(credentials);
    const elsewhere: Array<Binding[] | undefined> = [
      [{ ...slot, row: `${randomUUID()}/${randomUUID()}` }],
      [{ ...slot, tenant: randomUUID() }],
      [{ ...slot, table: 'definitions' }],
      undefined,
    ];
    for (const boundTo of elsewhere) {
      const failure = openFailure(keyring, { ...sealed, boundTo });
      expect(failure).toBeInstanceOf(DecryptionFailed);
      expect(failure.message).toMatch(/failed authentication: it was sealed for another row or tenant, or altered/);
      expect(failure.message).not.toContain(PASSWORD);
    }
  });

  it('still opens a secret sealed without a binding (before bindings existed)', () => {
    const legacy = seal(keyring, credentials);
    expect(open(keyring, legacy)).toBe(credentials);
    expect(open(keyring, { ...legacy, boundTo: [slot] })).toBe(credentials);
  });

  it('opens under a previous key after a rotation', () => {
    const rotating = loadKeyring(tempDir('binding-rotation'));
    const before = seal(rotating, credentials, slot);
    addKey(rotating);
    expect(rotating.current).not.toBe(before.keyId);
    expect(open(rotating, { ...before, boundTo: [slot] })).toBe(credentials);
    expect(openFailure(rotating, { ...before, boundTo: [{ ...slot, tenant: randomUUID() }] })).toBeInstanceOf(DecryptionFailed);
  });
});

// Its own database: key rotation re-encrypts every secret of a database.
describe('credentials stored in PostgreSQL', () => {
  let pool: pg.Pool;
  let keyring: Keyring;
  beforeAll(async () => {
    pool = createPool(await emptyDatabase());
    await migrate(pool);
    keyring = loadKeyring(tempDir('stored'));
  });
  afterAll(() => pool.end());

  /** A tenant with an application, one API and two runtimes sharing DEFAULT: two open slots. */
  async function slots(defaults?: (apiId: string, tenantId: string) => string) {
    const tenant = await ensureTenant(pool, uniqueName('tenant'));
    const app = await createApplication(pool, tenant.id, { name: uniqueName('app') });
    const owner = { tenantId: tenant.id, applicationId: app.id };
    const apiId = randomUUID();
    const defaultCredentials = defaults && seal(keyring, defaults(apiId, tenant.id), defaultCredentialsBinding(tenant.id, apiId));
    await insertDefinition(pool, { ...owner, kind: 'API' }, { name: uniqueName('api'), targetUrl: 'http://127.0.0.1:9/api', defaultCredentials }, apiId);
    const [r1, r2] = await Promise.all([1, 2].map(() => createRuntime(pool, tenant.id, { name: uniqueName('rt'), provider: 'simulated', scenarios: ['DEFAULT'] })));
    const opened = async (runtimeId: string) => open(keyring, (await credentialsOfRuntime(pool, runtimeId)).get(apiId)!);
    return { tenant, owner, apiId, r1: r1!.id, r2: r2!.id, opened };
  }

  /** Copies the secret of one slot into another, as someone who can write the database could. */
  async function copySecret(apiId: string, fromRuntime: string, to: { apiId: string; runtimeId: string }) {
    await pool.query(
      `UPDATE credential_slots t SET status = 'SUCCEEDED', secret_ciphertext = f.secret_ciphertext, secret_key_id = f.secret_key_id
       FROM credential_slots f WHERE f.api_id = $1 AND f.runtime_id = $2 AND t.api_id = $3 AND t.runtime_id = $4`,
      [apiId, fromRuntime, to.apiId, to.runtimeId],
    );
  }

  /** Clears what a test copied, so that the rotation below finds only secrets that open. */
  const clearSecret = (apiId: string, runtimeId: string) =>
    pool.query(`UPDATE credential_slots SET status = 'PENDING', secret_ciphertext = NULL, secret_key_id = NULL WHERE api_id = $1 AND runtime_id = $2`, [apiId, runtimeId]);

  it('does not open credentials copied to another runtime’s slot or to another tenant', async () => {
    const a = await slots();
    const b = await slots();
    await setCredentials(pool, a.owner, a.apiId, a.r1, seal(keyring, credentials, slotBinding(a.tenant.id, a.apiId, a.r1)));
    expect(await a.opened(a.r1)).toBe(credentials);

    await copySecret(a.apiId, a.r1, { apiId: a.apiId, runtimeId: a.r2 });
    await copySecret(a.apiId, a.r1, { apiId: b.apiId, runtimeId: b.r1 });
    for (const [opened, runtimeId] of [[a.opened, a.r2], [b.opened, b.r1]] as const) {
      const failure = await opened(runtimeId).catch((error: Error) => error);
      expect(failure).toBeInstanceOf(DecryptionFailed);
      expect((failure as Error).message).toContain(`credential_slots row ${runtimeId === a.r2 ? a.apiId : b.apiId}/${runtimeId}`);
      expect((failure as Error).message).not.toContain(PASSWORD);
    }
    await clearSecret(a.apiId, a.r2);
    await clearSecret(b.apiId, b.r1);
  });

  it('does not open a webhook secret copied to another webhook, and opens one sealed before bindings existed', async () => {
    const a = await slots();
    const webhook = async (secret?: string) => {
      const id = randomUUID();
      const sealed = secret === undefined ? undefined : seal(keyring, secret, webhookSecretBinding(a.tenant.id, id));
      await insertWebhook(pool, { id, tenantId: a.tenant.id, applicationId: a.owner.applicationId, type: 'CONFIGURATION_CHANGED', url: 'http://127.0.0.1:9/hook', secret: sealed });
      return id;
    };
    const signing = await webhook(PASSWORD);
    expect(open(keyring, (await webhookTarget(pool, signing))!.secret!)).toBe(PASSWORD);

    const other = await webhook('another secret');
    await pool.query('UPDATE webhooks t SET secret_ciphertext = f.secret_ciphertext, secret_key_id = f.secret_key_id FROM webhooks f WHERE f.id = $1 AND t.id = $2', [signing, other]);
    const copied = await webhookTarget(pool, other);
    expect(() => open(keyring, copied!.secret!)).toThrow(DecryptionFailed);
    expect(() => open(keyring, copied!.secret!)).toThrow(new RegExp(`webhooks row ${other}`));

    // A secret sealed before bindings existed still opens.
    const legacy = await webhook();
    const unbound = seal(keyring, 'legacy secret');
    await pool.query('UPDATE webhooks SET secret_ciphertext = $1, secret_key_id = $2 WHERE id = $3', [unbound.ciphertext, unbound.keyId, legacy]);
    expect(open(keyring, (await webhookTarget(pool, legacy))!.secret!)).toBe('legacy secret');
    await pool.query('DELETE FROM webhooks WHERE id = ANY($1)', [[other, legacy]]);
  });

  it('opens an API’s default credentials in every new slot of that API, and in no other API’s slot', async () => {
    const a = await slots((apiId) => JSON.stringify({ bearer: { token: `default-of-${apiId}` } }));
    expect(await a.opened(a.r1)).toBe(JSON.stringify({ bearer: { token: `default-of-${a.apiId}` } }));
    expect(await a.opened(a.r2)).toBe(JSON.stringify({ bearer: { token: `default-of-${a.apiId}` } }));

    const other = await slots(() => JSON.stringify({ bearer: { token: 'other' } }));
    await copySecret(a.apiId, a.r1, { apiId: other.apiId, runtimeId: other.r1 });
    await expect(other.opened(other.r1)).rejects.toBeInstanceOf(DecryptionFailed);
    await clearSecret(other.apiId, other.r1);
  });

  it('opens credentials sealed before bindings existed, and binds them when the keys are rotated', async () => {
    const a = await slots(() => JSON.stringify({ bearer: { token: 'legacy-default' } }));
    const legacy = seal(keyring, credentials);
    await setCredentials(pool, a.owner, a.apiId, a.r1, legacy);
    const legacyDefault = seal(keyring, JSON.stringify({ bearer: { token: 'legacy-default' } }));
    await pool.query('UPDATE definitions SET default_credentials_ciphertext = $1, default_credentials_key_id = $2 WHERE id = $3', [legacyDefault.ciphertext, legacyDefault.keyId, a.apiId]);
    expect(await a.opened(a.r1)).toBe(credentials);

    const before = keyring.current;
    addKey(keyring);
    expect(await reencryptAll(pool, keyring)).toBeGreaterThanOrEqual(3);
    const stored = await pool.query<{ secret_ciphertext: Buffer; secret_key_id: string }>('SELECT secret_ciphertext, secret_key_id FROM credential_slots WHERE api_id = $1', [a.apiId]);
    const definition = await pool.query<{ c: Buffer }>('SELECT default_credentials_ciphertext AS c FROM definitions WHERE id = $1', [a.apiId]);
    for (const { secret_ciphertext, secret_key_id } of stored.rows) {
      expect(secret_ciphertext.subarray(0, BOUND.length)).toEqual(BOUND);
      expect(secret_key_id).toBe(keyring.current);
    }
    expect(definition.rows[0]!.c.subarray(0, BOUND.length)).toEqual(BOUND);
    expect(keyring.current).not.toBe(before);
    expect(await a.opened(a.r1)).toBe(credentials);
    expect(await a.opened(a.r2)).toBe(JSON.stringify({ bearer: { token: 'legacy-default' } }));
    // Bound now: a copy to the other runtime's slot no longer opens.
    await copySecret(a.apiId, a.r1, { apiId: a.apiId, runtimeId: a.r2 });
    await expect(a.opened(a.r2)).rejects.toBeInstanceOf(DecryptionFailed);
    // Nothing is left to re-encrypt.
    expect(await reencryptAll(pool, keyring)).toBe(0);
  });
});

describe('a certificate whose application was deleted', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({ worker: true });
  });
  afterAll(() => api.stop());

  it('is answered 401, never 500, when it registers an API or a webhook before the revocation reaches this replica', async () => {
    const { app, client } = await pairedApplication(api);
    try {
      // Deleted, but its certificate not (yet) known revoked here: the window of the revocation list.
      await api.pool.query('DELETE FROM applications WHERE id = $1', [app.id]);
      const writes = [
        client.request('POST', '/v1/application/apis', { name: uniqueName('api'), targetUrl: 'http://127.0.0.1:9/api' }),
        client.request('POST', '/v1/application/events', { name: uniqueName('evt') }),
        client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: 'http://127.0.0.1:9/hook' }),
      ];
      for (const res of await Promise.all(writes)) {
        expect(res.status).toBe(401);
        expect(res.headers['content-type']).toMatch(/problem\+json/);
        expect(res.body.detail).toBe("the client certificate's application no longer exists");
      }
    } finally {
      client.close();
    }
  });

  it('is answered 401 when it writes right after DELETE /v1/applications/{id}', async () => {
    const { app, client, adminToken } = await pairedApplication(api);
    try {
      expect((await call(`${api.url}/v1/applications/${app.id}`, { method: 'DELETE', token: adminToken })).status).toBe(202);
      const res = await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: 'http://127.0.0.1:9/hook' });
      expect(res.status).toBe(401);
    } finally {
      client.close();
    }
  });
});
