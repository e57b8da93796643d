import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import https from 'node:https';
import { WorkflowFailedError } from '@temporalio/client';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LIVE_CERTIFICATES, RENEWAL_OVERLAP_SECONDS, createConnectorActivities } from '../activities/connector.js';
import { MtlsClient, connect, parseSubject } from '../client/connector.js';
import { authoriseCertificateRequest } from '../db/certificates.js';
import { createRuntime } from '../db/runtimes.js';
import { issueToken } from '../db/tokens.js';
import { clientSubject, createCsr, issue, normalizeSerial, parseCsr, publicKeySha256 } from '../trust/ca.js';
import { certificateIssuance } from '../workflows/certificates.js';
import { workflowId } from '../workflows/ids.js';
import { call, createTenant, pairedApplication, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
});
afterAll(() => api.stop());

const rsaKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const serialOf = (pem: string) => normalizeSerial(new X509Certificate(pem).serialNumber);
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const listCertificates = (path: string, token?: string, query = '') => call(`${api.url}/v1/${path}/certificates${query}`, { token });
const revokeCertificate = (path: string, serial: string, token: string | undefined, body: unknown = { reason: 'key leaked' }) =>
  call(`${api.url}/v1/${path}/certificates/${serial}/revocation`, { method: 'POST', token, body });

/** A renewal by `client` with a CSR of `key`, as the raw HTTP answer. */
const renewWith = (client: MtlsClient, key = rsaKey()) => {
  const subject = new X509Certificate(client.credentials.certificate).subject.split('\n').join(', ');
  return client.request('POST', '/connector/v1/certificates/renewals', { csr: createCsr(key, parseSubject(subject)) });
};
const renewedClient = (client: MtlsClient, key: ReturnType<typeof rsaKey>, certificate: string) =>
  new MtlsClient({ ...client.credentials, key: key.export({ type: 'pkcs8', format: 'pem' }).toString(), certificate });

/** A runtime of a fresh tenant with a certificate from the runtime token exchange (what its agent does first). */
async function connectedRuntime() {
  const { tenant, token } = await createTenant(api.pool);
  const runtime = await createRuntime(api.pool, tenant.id, { name: uniqueName('rt') });
  const granted = await issueToken(api.pool, { tenantId: tenant.id, objectKind: 'runtime', objectId: runtime.id, purpose: 'runtime' }, 300);
  const client = new MtlsClient(await connect(`${api.url}/connector/v1/signing-request`, granted.token));
  return { tenant, adminToken: token, runtime, client };
}

describe('certificate issuance re-checks what it is told against PostgreSQL', () => {
  const activities = () => createConnectorActivities({ pool: api.pool, ca: api.ca, keyring: api.keyring, connector: api.connector });
  const requestFor = (tenantId: string, objectId: string) => {
    const csr = createCsr(rsaKey(), clientSubject('application', objectId, tenantId, api.connector.subjectExtras));
    return { tenantId, objectKind: 'application' as const, objectId, csr, issuanceKey: uniqueName('key') };
  };
  const authorise = (request: ReturnType<typeof requestFor>, overrides: Record<string, unknown> = {}) =>
    authoriseCertificateRequest(api.pool, { ...request, publicKeySha256: publicKeySha256(parseCsr(request.csr)), ...overrides }, 60);
  const certificatesOf = async (objectId: string) => (await api.pool.query('SELECT 1 FROM certificates WHERE object_id = $1', [objectId])).rowCount;

  it('refuses an issuance no request was recorded for, or none at all', async () => {
    const { app, tenant } = await pairedApplication(api);
    const request = requestFor(tenant.id, app.id);
    await expect(activities().issueCertificate(request)).rejects.toMatchObject({ type: 'NotAuthorized', nonRetryable: true });
    // Untyped input, as anyone who reaches the task queue may send.
    await expect(activities().issueCertificate({ ...request, issuanceKey: undefined as unknown as string })).rejects.toMatchObject({ type: 'NotAuthorized' });
    expect(await certificatesOf(app.id)).toBe(1); // the pairing's only
  });

  it('refuses an issuance for another tenant’s application, whatever the caller claims', async () => {
    const mine = await pairedApplication(api);
    const victim = await pairedApplication(api);
    // A request recorded for my application does not cover the victim's.
    const request = requestFor(victim.tenant.id, victim.app.id);
    await authorise(request, { tenantId: mine.tenant.id, objectId: mine.app.id });
    await expect(activities().issueCertificate(request)).rejects.toMatchObject({ type: 'NotAuthorized', message: /recorded for another application/ });
    // A request naming my tenant with the victim's application: the application is not my tenant's.
    const crossed = requestFor(mine.tenant.id, victim.app.id);
    await authorise(crossed);
    await expect(activities().issueCertificate(crossed)).rejects.toMatchObject({ type: 'NotAuthorized', message: /no longer exists/ });
    expect(await certificatesOf(victim.app.id)).toBe(1);
  });

  it('refuses a CSR of another key pair than the recorded request names, and an expired request', async () => {
    const { app, tenant } = await pairedApplication(api);
    const request = requestFor(tenant.id, app.id);
    await authorise(request, { publicKeySha256: publicKeySha256(parseCsr(requestFor(tenant.id, app.id).csr)) });
    await expect(activities().issueCertificate(request)).rejects.toMatchObject({ type: 'NotAuthorized', message: /another key pair/ });
    const expired = requestFor(tenant.id, app.id);
    await authorise(expired);
    await api.pool.query("UPDATE certificate_requests SET created_at = now() - interval '1 hour', expires_at = now() - interval '1 second' WHERE issuance_key = $1", [expired.issuanceKey]);
    await expect(activities().issueCertificate(expired)).rejects.toMatchObject({ type: 'NotAuthorized', message: /no live request/ });
  });

  it('refuses an issuance for a deleted application', async () => {
    const { app, tenant, adminToken } = await pairedApplication(api);
    const request = requestFor(tenant.id, app.id);
    await authorise(request);
    expect((await call(`${api.url}/v1/applications/${app.id}`, { method: 'DELETE', token: adminToken })).status).toBe(202);
    await expect(activities().issueCertificate(request)).rejects.toMatchObject({ type: 'NotAuthorized', message: /application no longer exists/ });
    expect(await certificatesOf(app.id)).toBe(1);
  });

  it('gives nothing to a workflow started on the task queue by someone who is not the API', async () => {
    const victim = await pairedApplication(api);
    const request = requestFor(victim.tenant.id, victim.app.id);
    const run = api.temporal.workflow.execute(certificateIssuance, {
      workflowId: workflowId.certificate(victim.app.id, request.issuanceKey),
      taskQueue: api.taskQueue,
      args: [request],
    });
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(((error as Error).cause as Error | undefined)?.cause).toMatchObject({ type: 'NotAuthorized' });
    expect(await certificatesOf(victim.app.id)).toBe(1);
  });
});

describe('GET /v1/applications|runtimes/{id}/certificates', () => {
  it('lists an application’s certificates newest first, with the revocation a renewal scheduled', async () => {
    const { app, adminToken, client } = await pairedApplication(api);
    const key = rsaKey();
    const renewal = await renewWith(client, key);
    expect(renewal.status).toBe(201);
    const res = await listCertificates(`applications/${app.id}`, adminToken);
    expect(res.status).toBe(200);
    const [renewed, original] = res.body.items;
    expect(res.body.items).toHaveLength(2);
    expect(res.body.nextCursor).toBeNull();
    const certificate = new X509Certificate(renewal.body.clientCertificate);
    expect(renewed).toEqual({
      serial: serialOf(renewal.body.clientCertificate),
      fingerprint: certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
      notBefore: expect.any(String),
      notAfter: expect.any(String),
      revokedAt: null,
      revocationReason: null,
    });
    expect(Math.abs(Date.parse(renewed.notAfter) - Date.parse(certificate.validTo))).toBeLessThan(1_000);
    expect(Math.abs(Date.parse(renewed.notBefore) - Date.parse(certificate.validFrom))).toBeLessThan(1_000);
    expect(original).toMatchObject({ serial: serialOf(client.credentials.certificate), revocationReason: 'replaced by a renewal' });
    const overlap = (Date.parse(original.revokedAt) - Date.now()) / 1000;
    expect(overlap).toBeGreaterThan(RENEWAL_OVERLAP_SECONDS - 30);
    expect(overlap).toBeLessThanOrEqual(RENEWAL_OVERLAP_SECONDS);
    expect((await listCertificates(`applications/${app.id}`, adminToken, '?limit=1')).body.items).toEqual([renewed]);
    client.close();
  });

  it('lists a runtime’s certificates', async () => {
    const { runtime, adminToken, client } = await connectedRuntime();
    expect((await client.request('GET', '/v1/runtime')).status).toBe(200);
    const res = await listCertificates(`runtimes/${runtime.id}`, adminToken);
    expect(res.status).toBe(200);
    expect(res.body.items.map((c: { serial: string }) => c.serial)).toEqual([serialOf(client.credentials.certificate)]);
    client.close();
  });

  it('answers 404 for another tenant’s or an unknown object, 400 for a malformed id or limit, 401 without a token', async () => {
    const { app, client } = await pairedApplication(api);
    const { runtime } = await connectedRuntime();
    const other = await createTenant(api.pool);
    for (const path of [`applications/${app.id}`, `runtimes/${runtime.id}`, `applications/${UNKNOWN_ID}`, `runtimes/${UNKNOWN_ID}`, `applications/${runtime.id}`]) {
      const res = await listCertificates(path, other.token);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    }
    const malformed = await listCertificates('applications/not-a-uuid', other.token);
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([{ path: 'path.id', message: 'must be a UUID' }]);
    expect((await listCertificates(`applications/${app.id}`, other.token, '?limit=0')).status).toBe(400);
    expect((await listCertificates(`applications/${app.id}`, other.token, '?cursor=x')).status).toBe(400);
    expect((await listCertificates(`applications/${app.id}`)).status).toBe(401);
    client.close();
  });
});

describe('POST /v1/applications|runtimes/{id}/certificates/{serial}/revocation', () => {
  it('revokes one certificate: the mTLS listener refuses it within a second, even on an open connection', async () => {
    const { app, adminToken, client } = await pairedApplication(api);
    expect((await client.request('GET', '/v1/application')).status).toBe(200);
    // As certificates print it: uppercase, possibly with leading zeros.
    const printed = new X509Certificate(client.credentials.certificate).serialNumber;
    const revokedAt = Date.now();
    expect((await revokeCertificate(`applications/${app.id}`, printed, adminToken, { reason: 'key leaked' })).status).toBe(204);
    await expect.poll(async () => (await client.request('GET', '/v1/application')).status, { timeout: 1_000, interval: 50 }).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1_500);
    const [listed] = (await listCertificates(`applications/${app.id}`, adminToken)).body.items;
    expect(listed).toMatchObject({ serial: serialOf(client.credentials.certificate), revocationReason: 'key leaked', revokedAt: expect.any(String) });
    expect(Date.parse(listed.revokedAt)).toBeLessThanOrEqual(Date.now());
    // Once is enough.
    const again = await revokeCertificate(`applications/${app.id}`, printed, adminToken);
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toMatch(/problem\+json/);
    client.close();
  });

  it('revokes a runtime’s certificate', async () => {
    const { runtime, adminToken, client } = await connectedRuntime();
    const serial = serialOf(client.credentials.certificate);
    expect((await revokeCertificate(`runtimes/${runtime.id}`, serial, adminToken, { reason: 'decommissioned host' })).status).toBe(204);
    const res = await client.request('GET', '/v1/runtime');
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/revoked/);
    client.close();
  });

  it('answers 404 for an unknown serial, another object’s serial, another tenant’s or an unknown object; 400 for malformed input; 401 without a token', async () => {
    const { app, adminToken, client, tenant } = await pairedApplication(api);
    const sibling = await pairedApplication(api, {}, { tenant, token: adminToken });
    const other = await createTenant(api.pool);
    const serial = serialOf(client.credentials.certificate);
    const expectProblem = async (res: Awaited<ReturnType<typeof call>>, status: number) => {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
      return res.body;
    };
    await expectProblem(await revokeCertificate(`applications/${app.id}`, 'abcdef0123', adminToken), 404);
    await expectProblem(await revokeCertificate(`applications/${sibling.app.id}`, serial, adminToken), 404);
    await expectProblem(await revokeCertificate(`runtimes/${app.id}`, serial, adminToken), 404);
    await expectProblem(await revokeCertificate(`applications/${app.id}`, serial, other.token), 404);
    await expectProblem(await revokeCertificate(`applications/${UNKNOWN_ID}`, serial, adminToken), 404);
    expect((await expectProblem(await revokeCertificate('applications/not-a-uuid', serial, adminToken), 400)).errors).toEqual([{ path: 'path.id', message: 'must be a UUID' }]);
    for (const malformed of ['not-hex', 'f'.repeat(65), '12%2034']) {
      const body = await expectProblem(await revokeCertificate(`applications/${app.id}`, malformed, adminToken), 400);
      expect(body.errors).toEqual([{ path: 'path.serial', message: 'must be a certificate serial number in hex' }]);
    }
    for (const [body, path] of [
      [{}, 'reason'],
      [{ reason: '' }, 'reason'],
      [{ reason: 'x'.repeat(501) }, 'reason'],
      [{ reason: 42 }, 'reason'],
      [{ reason: 'ok', extra: 1 }, 'extra'],
    ] as const) {
      expect((await expectProblem(await revokeCertificate(`applications/${app.id}`, serial, adminToken, body), 400)).errors[0].path).toBe(path);
    }
    await expectProblem(await revokeCertificate(`applications/${app.id}`, serial, undefined), 401);
    // Nothing above revoked it.
    expect((await client.request('GET', '/v1/application')).status).toBe(200);
    client.close();
    sibling.client.close();
  });
});

describe('renewal', () => {
  it('revokes the calling certificate after the overlap: it works until then, and not after', async () => {
    const { app, client } = await pairedApplication(api);
    const key = rsaKey();
    const renewal = await renewWith(client, key);
    expect(renewal.status).toBe(201);
    const renewed = renewedClient(client, key, renewal.body.clientCertificate);
    const old = serialOf(client.credentials.certificate);
    const { rows } = await api.pool.query<{ due: number }>('SELECT extract(epoch FROM revoked_at - now()) AS due FROM certificates WHERE serial = $1', [old]);
    expect(Number(rows[0]!.due)).toBeGreaterThan(RENEWAL_OVERLAP_SECONDS - 30);
    expect((await client.request('GET', '/v1/application')).status).toBe(200);

    // The overlap passes (the database's clock is moved instead of the test's: the revocation falls due in 1 s).
    await api.pool.query("UPDATE certificates SET revoked_at = now() + interval '1 second' WHERE serial = $1", [old]);
    expect((await client.request('GET', '/v1/application')).status).toBe(200);
    await expect.poll(async () => (await client.request('GET', '/v1/application')).status, { timeout: 3_000, interval: 100 }).toBe(401);
    expect((await renewed.request('GET', '/v1/application')).body.id).toBe(app.id);
    expect((await renewWith(client)).status).toBe(401);
    client.close();
    renewed.close();
  });

  it('answers a retried renewal (same certificate, same key pair) with the certificate issued first', async () => {
    const { app, client } = await pairedApplication(api);
    const subject = new X509Certificate(client.credentials.certificate).subject.split('\n').join(', ');
    const csr = createCsr(rsaKey(), parseSubject(subject));
    const [first, second] = [
      await client.request('POST', '/connector/v1/certificates/renewals', { csr }),
      await client.request('POST', '/connector/v1/certificates/renewals', { csr }),
    ];
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.clientCertificate).toBe(first.body.clientCertificate);
    expect((await api.pool.query('SELECT 1 FROM certificates WHERE object_id = $1', [app.id])).rowCount).toBe(2);
    client.close();
  });

  it(`refuses with 409 beyond ${MAX_LIVE_CERTIFICATES} live certificates, until one is revoked`, async () => {
    const { app, adminToken, client } = await pairedApplication(api);
    const issued: string[] = [];
    // Every renewal from the same (overlapping) certificate adds one: the limit bounds them.
    for (let i = 0; i < MAX_LIVE_CERTIFICATES; i++) {
      const res = await renewWith(client);
      expect(res.status).toBe(201);
      issued.push(serialOf(res.body.clientCertificate));
    }
    const refused = await renewWith(client);
    expect(refused.status).toBe(409);
    expect(refused.headers['content-type']).toMatch(/problem\+json/);
    expect(refused.body.detail).toBe(`the application holds ${MAX_LIVE_CERTIFICATES} live certificates besides the calling one, the most allowed (${MAX_LIVE_CERTIFICATES}): revoke one first`);
    expect((await revokeCertificate(`applications/${app.id}`, issued[0]!, adminToken)).status).toBe(204);
    expect((await renewWith(client)).status).toBe(201);
    client.close();
  });
});

describe('re-pairing', () => {
  it('revokes the application’s earlier certificates once the new pairing issued its certificate', async () => {
    const { app, adminToken, client } = await pairedApplication(api);
    await api.temporal.workflow.getHandle(workflowId.pairing(app.id)).result();
    const pairing = (await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token: adminToken })).body;
    // Asking for a new pairing changes nothing yet.
    expect((await client.request('GET', '/v1/application')).status).toBe(200);
    const repaired = new MtlsClient(await connect(pairing.connectorUrl, pairing.token));
    await expect.poll(async () => (await client.request('GET', '/v1/application')).status, { timeout: 1_000, interval: 50 }).toBe(401);
    expect((await repaired.request('GET', '/v1/application')).status).toBe(200);
    const [current, earlier] = (await listCertificates(`applications/${app.id}`, adminToken)).body.items;
    expect(current).toMatchObject({ serial: serialOf(repaired.credentials.certificate), revokedAt: null });
    expect(earlier).toMatchObject({ serial: serialOf(client.credentials.certificate), revocationReason: 'superseded by a new pairing' });
    client.close();
    repaired.close();
  });
});

describe('the mTLS listener at notAfter', () => {
  /** One GET over `agent`, with the socket that carried it. */
  const get = (agent: https.Agent, url: string) =>
    new Promise<{ status: number; body: any; connection?: string; socket: unknown }>((resolve, reject) => {
      https
        .get(url, { agent }, (res) => {
          const socket = res.socket;
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), connection: res.headers.connection, socket }));
        })
        .on('error', reject);
    });

  it('refuses a keep-alive connection once its certificate has expired, and closes it', async () => {
    const { app, tenant, client } = await pairedApplication(api);
    client.close();
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const shortLived = issue(api.ca, {
      publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
      subject: [{ shortName: 'CN', value: app.id }, { shortName: 'OU', value: 'applications' }, { shortName: 'O', value: tenant.id }],
      validityDays: 3 / 86_400,
      usage: 'client',
    });
    const agent = new https.Agent({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }), cert: shortLived.pem, ca: api.ca.certPem, keepAlive: true, maxSockets: 1 });
    const url = `${client.credentials.mtlsBaseUrl}/v1/application`;
    try {
      const early = await get(agent, url);
      expect(early.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, shortLived.notAfter.getTime() - Date.now() + 500));
      const late = await get(agent, url);
      expect(late.socket).toBe(early.socket); // the same connection, its handshake long past
      expect(late.status).toBe(401);
      expect(late.body.detail).toBe(`the client certificate expired at ${shortLived.notAfter.toISOString().replace(/\.\d+Z$/, '.000Z')}`);
      expect(late.connection).toBe('close');
      // A new connection is refused too (a resumed TLS session skips the handshake's validity check; the per-request one is there).
      const fresh = await get(agent, url);
      expect(fresh.socket).not.toBe(early.socket);
      expect(fresh.status).toBe(401);
    } finally {
      agent.destroy();
    }
  });
});
