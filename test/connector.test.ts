import { execFileSync } from 'node:child_process';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import https from 'node:https';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import forge from 'node-forge';
import { MtlsClient, connect, parseSubject, requestCertificate, requestSigning, type Credentials } from '../client/connector.js';
import { createConnectorActivities } from '../activities/connector.js';
import { authoriseCertificateRequest } from '../db/certificates.js';
import { createRuntime } from '../db/runtimes.js';
import { issueToken } from '../db/tokens.js';
import { clientSubject, createCsr, generateCa, issue, loadCa, normalizeSerial, parseCsr, publicKeySha256, subjectFields, type Ca, type Subject } from '../trust/ca.js';
import { MeridianApplicationId } from '../workflows/ids.js';
import { pairingStatus } from '../workflows/pairing.js';
import { call, createTenant, historyText, startTestApi, testActivityDeps, uniqueName, workflowBundle, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
});
afterAll(() => api.stop());

async function newApplication() {
  const { tenant, token } = await createTenant(api.pool);
  const app = (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('app') } })).body;
  const pair = async () => {
    const res = await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token });
    expect(res.status).toBe(201);
    return res.body as { token: string; expiresAt: string; connectorUrl: string; operationId: string };
  };
  return { tenant, adminToken: token, app, pair };
}

const signingRequest = (token: string | undefined) =>
  call(`${api.url}/connector/v1/signing-request`, { headers: token === undefined ? {} : { 'connector-token': token } });
const certificates = (token: string, csr: unknown) => call(`${api.url}/connector/v1/certificates`, { body: { csr }, headers: { 'connector-token': token } });

const rsaKey = (bits = 2048) => generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;

describe('pairing, end to end over HTTP and mTLS', () => {
  it('turns a pairing token into a client certificate and a CONNECTED application', async () => {
    const { tenant, app, pair, adminToken } = await newApplication();
    const pairing = await pair();
    expect(pairing.connectorUrl).toBe(`${api.api.urls.public}/connector/v1/signing-request`);
    expect(pairing.token).toMatch(/^[\w-]{43}$/);

    const signing = await requestSigning(pairing.connectorUrl, pairing.token);
    expect(signing.subject).toBe(`CN=${app.id}, OU=applications, O=${tenant.id}, L=Waldorf, ST=Baden-Wuerttemberg, C=DE`);
    expect(signing.keyAlgorithm).toBe('rsa2048');
    expect(signing.mtlsBaseUrl).toBe(api.api.urls.mtls);

    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const res = await certificates(signing.csrToken, createCsr(privateKey, parseSubject(signing.subject)));
    expect(res.status).toBe(201);
    const chain = res.body.certificateChain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    expect(chain).toHaveLength(2);
    const [client, ca] = chain.map((pem: string) => new X509Certificate(pem));
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(ca.toString()).toBe(new X509Certificate(api.ca.certPem).toString());
    expect(client.subject.split('\n').join(', ')).toBe(signing.subject);
    expect(client.serialNumber).toMatch(/^[0-9A-F]{30,32}$/);
    expect(client.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    const days = (Date.parse(client.validTo) - Date.now()) / 86400_000;
    expect(days).toBeGreaterThan(89);
    expect(days).toBeLessThan(91);

    const mtls = new MtlsClient({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certificate: res.body.clientCertificate, caCertificate: res.body.caCertificate, mtlsBaseUrl: signing.mtlsBaseUrl });
    const workflow = api.temporal.workflow.getHandle(`pairing:${app.id}`);
    await workflow.result();
    const me = await mtls.request('GET', '/v1/application');
    mtls.close();
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: app.id, tenantId: tenant.id, status: { condition: 'CONNECTED' } });

    const op = await call(`${api.url}/v1/operations/${pairing.operationId}`, { token: adminToken });
    expect(op.body).toMatchObject({ type: 'PAIRING', state: 'SUCCEEDED', stage: 'CONNECTED', workflowId: `pairing:${app.id}` });
    const { rows } = await api.pool.query('SELECT subject, fingerprint, not_after FROM certificates WHERE object_id = $1', [app.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].fingerprint).toBe(client.fingerprint256.replaceAll(':', '').toLowerCase());
  });

  it('shows the pairing workflow under its business id, filterable by MeridianApplicationId, with its stage', async () => {
    const { app, pair } = await newApplication();
    await pair();
    const handle = api.temporal.workflow.getHandle(`pairing:${app.id}`);
    await expect.poll(async () => (await handle.query(pairingStatus)).stage, { timeout: 10_000 }).toBe('WAITING_FOR_SIGNING_REQUEST');
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(MeridianApplicationId)).toBe(app.id);
    await expect
      .poll(
        async () => {
          const ids: string[] = [];
          for await (const wf of api.temporal.workflow.list({ query: `MeridianApplicationId = '${app.id}' AND MeridianStage = 'WAITING_FOR_SIGNING_REQUEST'` })) ids.push(wf.workflowId);
          return ids;
        },
        { timeout: 15_000 },
      )
      .toEqual([`pairing:${app.id}`]);
    await handle.terminate('test done');
  });
});

describe('secrets', () => {
  it('never reach the workflow history or the logs: tokens and the private key', async () => {
    const { app, pair } = await newApplication();
    const pairing = await pair();
    const signing = await requestSigning(pairing.connectorUrl, pairing.token);
    const credentials = await requestCertificate(signing);
    const handle = api.temporal.workflow.getHandle(`pairing:${app.id}`);
    await handle.result();
    const history = await historyText(handle);
    const keyBody = credentials.key.split('\n')[1]!;
    for (const secret of [pairing.token, signing.csrToken, keyBody]) {
      expect(history).not.toContain(secret);
      expect(api.log.text).not.toContain(secret);
    }
    expect(history).toContain(app.id);
    expect(history).toContain('BEGIN CERTIFICATE REQUEST'); // payloads were decoded: the (public) CSR is there
  });
});

describe('one-time tokens', () => {
  it('are single use: signing-request and certificates each accept their token once', async () => {
    const { pair } = await newApplication();
    const pairing = await pair();
    const first = await signingRequest(pairing.token);
    expect(first.status).toBe(200);
    const second = await signingRequest(pairing.token);
    expect(second.status).toBe(401);
    expect(second.body.detail).toBe('invalid or expired token');

    const csr = createCsr(rsaKey(), parseSubject(first.body.subject));
    expect((await certificates(first.body.csrToken, csr)).status).toBe(201);
    const again = await certificates(first.body.csrToken, csr);
    expect(again.status).toBe(401);
  });

  it('let exactly one of 20 concurrent redemptions succeed', async () => {
    const { pair } = await newApplication();
    const pairing = await pair();
    const results = await Promise.all(Array.from({ length: 20 }, () => signingRequest(pairing.token)));
    expect(results.map((r) => r.status).sort()).toEqual([200, ...Array(19).fill(401)]);
  });

  it("answer concurrent certificate requests of one runtime's CSR token with one certificate and refusals, never a 5xx", async () => {
    const { tenant } = await createTenant(api.pool);
    const runtime = await createRuntime(api.pool, tenant.id, { name: uniqueName('rt'), provider: 'simulated', scenarios: [] });
    const { token } = await issueToken(api.pool, { tenantId: tenant.id, objectKind: 'runtime', objectId: runtime.id, purpose: 'runtime' }, 600);
    const signing = (await signingRequest(token)).body;
    // Clients racing with one token: the same CSR three times, and CSRs of two other key pairs.
    const same = createCsr(rsaKey(), parseSubject(signing.subject));
    const csrs = [same, same, same, createCsr(rsaKey(), parseSubject(signing.subject)), createCsr(rsaKey(), parseSubject(signing.subject))];
    const answers = await Promise.all(csrs.map((csr) => certificates(signing.csrToken, csr)));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 401, 401, 401, 401]);
    expect((await api.pool.query('SELECT 1 FROM certificates WHERE object_id = $1', [runtime.id])).rowCount).toBe(1);
  });

  it('are not lost with the answer: a connection that dies at COMMIT after the certificate was issued answers 503, and the retry gets that certificate', async () => {
    const { app, pair } = await newApplication();
    const signing = (await signingRequest((await pair()).token)).body;
    const key = rsaKey();
    const csr = createCsr(key, parseSubject(signing.subject));
    // The connection of the request's transaction dies at its COMMIT, once: the certificate is issued by
    // then (the pairing workflow ran), the token's redemption is rolled back with the transaction.
    const name = `die_at_commit_${app.id.replaceAll('-', '')}`;
    await api.pool.query(`CREATE SEQUENCE ${name}`);
    await api.pool.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF NEW.object_id = '${app.id}' AND NEW.used_at IS NOT NULL AND nextval('${name}') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
      RETURN NULL; END $$`);
    await api.pool.query(`CREATE CONSTRAINT TRIGGER ${name} AFTER UPDATE ON one_time_tokens DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${name}()`);
    try {
      const lost = await certificates(signing.csrToken, csr);
      expect(lost.status).toBe(503);
      expect(lost.headers.get('retry-after')).toBe('2');
      const issued = await api.pool.query<{ serial: string }>('SELECT serial FROM certificates WHERE object_id = $1', [app.id]);
      expect(issued.rowCount).toBe(1);

      // Only for the key it was issued to: another key pair's CSR with the same token is refused, and uses nothing up.
      expect((await certificates(signing.csrToken, createCsr(rsaKey(), parseSubject(signing.subject)))).status).toBe(401);
      const retried = await certificates(signing.csrToken, csr);
      expect(retried.status).toBe(201);
      expect(normalizeSerial(new X509Certificate(retried.body.clientCertificate).serialNumber)).toBe(issued.rows[0]!.serial);
      expect((await certificates(signing.csrToken, csr)).status).toBe(401);
      expect((await api.pool.query('SELECT 1 FROM certificates WHERE object_id = $1', [app.id])).rowCount).toBe(1);
    } finally {
      await api.pool.query(`DROP TRIGGER ${name} ON one_time_tokens; DROP FUNCTION ${name}(); DROP SEQUENCE ${name}`);
    }
  });

  it('reject missing, malformed, unknown and wrong-purpose tokens alike', async () => {
    const { pair } = await newApplication();
    const pairing = await pair();
    const signing = (await signingRequest(pairing.token)).body;
    const csr = createCsr(rsaKey(), parseSubject(signing.subject));
    for (const res of [
      await signingRequest(undefined),
      await signingRequest('short'),
      await signingRequest('x'.repeat(43)),
      await signingRequest(signing.csrToken), // a CSR token is not a pairing token
      await certificates(pairing.token, csr), // a used pairing token is not a CSR token
      await certificates('y'.repeat(43), csr),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
      expect(res.body.detail).toBe('invalid or expired token');
    }
  });

  it('are issued only for the caller’s own applications (404 foreign, 400 malformed id, 401 without a token)', async () => {
    const { app } = await newApplication();
    const other = await createTenant(api.pool);
    expect((await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token: other.token })).status).toBe(404);
    expect((await call(`${api.url}/v1/applications/not-a-uuid/pairing`, { method: 'POST', token: other.token })).status).toBe(400);
    expect((await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST' })).status).toBe(401);
    expect((await api.pool.query('SELECT 1 FROM one_time_tokens WHERE object_id = $1', [app.id])).rowCount).toBe(0);
  });

  it('stop working when a new pairing request supersedes them', async () => {
    const { pair, adminToken } = await newApplication();
    const first = await pair();
    const second = await pair();
    expect((await signingRequest(first.token)).status).toBe(401);
    const op = await call(`${api.url}/v1/operations/${first.operationId}`, { token: adminToken });
    expect(op.body).toMatchObject({ state: 'FAILED', message: 'superseded by a new pairing request' });
    expect((await signingRequest(second.token)).status).toBe(200);
  });

  it('stop working once the database says they expired', async () => {
    const { pair } = await newApplication();
    const pairing = await pair();
    await api.pool.query("UPDATE one_time_tokens SET expires_at = now() - interval '1 second', created_at = now() - interval '1 hour' WHERE object_id = (SELECT object_id FROM one_time_tokens ORDER BY created_at DESC LIMIT 1) AND used_at IS NULL");
    expect((await signingRequest(pairing.token)).status).toBe(401);
  });
});

describe('certificate issuance', () => {
  it('issues once per issuance key: a re-run (its worker killed before it reported) and a concurrent run answer the first certificate', async () => {
    const { tenant, app } = await newApplication();
    const { issueCertificate } = createConnectorActivities({ pool: api.pool, ca: api.ca, keyring: api.keyring, connector: api.connector });
    const subject = clientSubject('application', app.id, tenant.id, api.connector.subjectExtras);
    const input = { tenantId: tenant.id, objectKind: 'application' as const, objectId: app.id, csr: createCsr(rsaKey(), subject), issuanceKey: uniqueName('key') };
    // What the API records before it asks for a certificate: without it the activity signs nothing.
    const authorise = (issuanceKey: string) =>
      authoriseCertificateRequest(api.pool, { ...input, issuanceKey, publicKeySha256: publicKeySha256(parseCsr(input.csr)) }, 60);
    await authorise(input.issuanceKey);
    const runs = await Promise.all([issueCertificate(input), issueCertificate(input), issueCertificate(input)]);
    expect(new Set(runs.map((r) => r.serial)).size).toBe(1);
    expect((await issueCertificate(input)).clientCertificate).toBe(runs[0]!.clientCertificate);
    expect((await api.pool.query('SELECT 1 FROM certificates WHERE object_id = $1', [app.id])).rowCount).toBe(1);
    // Another request (another key) is another certificate.
    const another = uniqueName('key');
    await authorise(another);
    expect((await issueCertificate({ ...input, issuanceKey: another })).serial).not.toBe(runs[0]!.serial);
  });
});

describe('CSR checks', () => {
  let subject: Subject;
  let csrToken: string;
  beforeAll(async () => {
    const { pair } = await newApplication();
    const signing = (await signingRequest((await pair()).token)).body;
    subject = parseSubject(signing.subject);
    csrToken = signing.csrToken;
  });

  const replace = (attr: string, value: string): Subject => subject.map(([k, v]) => [k, k === attr ? value : v]);
  const forgeCsr = (mutate: (csr: forge.pki.CertificateSigningRequest) => void, bits = 2048) => {
    const keys = forge.pki.rsa.generateKeyPair({ bits, workers: -1 });
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = keys.publicKey;
    csr.setSubject(subjectFields(subject));
    csr.sign(keys.privateKey, forge.md.sha256.create());
    mutate(csr);
    return forge.pki.certificationRequestToPem(csr);
  };
  /** forge cannot build an EC request; OpenSSL (a Debian base package) can. */
  const ecCsr = () =>
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=x'], {
      encoding: 'utf8',
    });

  const cases: Array<[string, () => unknown, RegExp]> = [
    ['a wrong CN', () => createCsr(rsaKey(), replace('CN', '00000000-0000-4000-8000-000000000000')), /subject must be exactly/],
    ['a wrong O', () => createCsr(rsaKey(), replace('O', 'other-tenant')), /missing or different: O=/],
    ['a wrong OU', () => createCsr(rsaKey(), replace('OU', 'runtimes')), /OU=applications/],
    ['a wrong L', () => createCsr(rsaKey(), replace('L', 'Berlin')), /L=Waldorf/],
    ['a wrong ST', () => createCsr(rsaKey(), replace('ST', 'Bayern')), /ST=Baden-Wuerttemberg/],
    ['a wrong C', () => createCsr(rsaKey(), replace('C', 'US')), /C=DE/],
    ['an extra attribute', () => createCsr(rsaKey(), [...subject, ['CN', 'second']] as Subject), /unexpected: CN=second/],
    ['a missing attribute', () => createCsr(rsaKey(), subject.filter(([k]) => k !== 'L')), /missing or different: L=/],
    ['an RSA-1024 key', () => createCsr(rsaKey(1024), subject), /1024 bits; at least 2048/],
    ['an EC key', ecCsr, /must be RSA/],
    ['a broken self-signature', () => forgeCsr((csr) => (csr.signature = 'x'.repeat(256))), /self-signature does not verify/],
    ['garbage', () => 'this is not a csr', /PEM certificate signing request or base64/],
    ['an empty string', () => '', /must not be empty/],
    ['bad base64', () => '!!!notbase64!!!', /PEM certificate signing request or base64/],
    ['base64 of garbage', () => Buffer.from('hello').toString('base64'), /PEM certificate signing request or base64/],
    ['a certificate instead of a CSR', () => api.ca.certPem, /a certificate or key is not a CSR/],
    ['a 1 MiB blob', () => 'A'.repeat(1024 * 1024 - 100), /at most 16384 characters/],
    ['a number', () => 42, /must be a string/],
  ];

  it.each(cases)('rejects a CSR with %s, and the CSR token still works', async (_title, csr, message) => {
    const res = await certificates(csrToken, csr());
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    expect(JSON.stringify(res.body)).toMatch(message);
    expect(res.body.errors[0].path).toBe('csr');
  });

  it('accepts base64 of a PEM CSR', async () => {
    const pem = createCsr(rsaKey(), subject);
    const res = await certificates(csrToken, Buffer.from(pem).toString('base64'));
    expect(res.status).toBe(201);
  });
});

describe('the mTLS listener', () => {
  let credentials: Credentials;
  let appId: string;
  let tenantId: string;
  beforeAll(async () => {
    const { pair, app, tenant } = await newApplication();
    const pairing = await pair();
    credentials = await connect(pairing.connectorUrl, pairing.token);
    appId = app.id;
    tenantId = tenant.id;
    await api.temporal.workflow.getHandle(`pairing:${app.id}`).result();
  });

  /** Credentials for this application's subject, signed by `ca` (another CA, or ours with a past expiry). */
  const craftedCredentials = (validityDays: number, ca: Ca): Credentials => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cert = issue(ca, {
      publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
      subject: [{ shortName: 'CN', value: appId }, { shortName: 'OU', value: 'applications' }, { shortName: 'O', value: tenantId }],
      validityDays,
      usage: 'client',
    });
    return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certificate: cert.pem, caCertificate: credentials.caCertificate, mtlsBaseUrl: credentials.mtlsBaseUrl };
  };

  it('rejects a request without a client certificate with 401', async () => {
    const answer = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      https
        .get(`${credentials.mtlsBaseUrl}/v1/application`, { ca: credentials.caCertificate }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        })
        .on('error', reject);
    });
    expect(answer.status).toBe(401);
    expect(answer.body.detail).toMatch(/client certificate is required/);
  });

  it('rejects a certificate from a foreign CA', async () => {
    const foreign = generateCa();
    const client = new MtlsClient(craftedCredentials(90, loadCa(foreign.certPem, foreign.keyPem)));
    const res = await client.request('GET', '/v1/application');
    client.close();
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/not accepted/);
  });

  it('rejects an expired certificate from the Meridian CA', async () => {
    const client = new MtlsClient(craftedCredentials(-1, api.ca));
    const res = await client.request('GET', '/v1/application');
    client.close();
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/CERT_HAS_EXPIRED|expired/);
  });

  it('ignores spoofed identity headers', async () => {
    const client = new MtlsClient(credentials);
    const res = await client.request('GET', '/v1/application', undefined, {
      'x-forwarded-client-cert': 'Subject="CN=00000000-0000-4000-8000-000000000000,OU=applications,O=other"',
      'x-client-id': '00000000-0000-4000-8000-000000000000',
    });
    client.close();
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(appId);
  });

  it('never shows another tenant: the identity is the certificate, so another tenant’s objects are out of reach', async () => {
    const other = await newApplication();
    const client = new MtlsClient(credentials);
    const res = await client.request('GET', '/v1/application');
    client.close();
    expect(res.body.tenantId).toBe(tenantId);
    expect(res.body.id).not.toBe(other.app.id);
  });

  it('refuses the public listener for certificate-only endpoints', async () => {
    expect((await call(`${api.url}/v1/application`)).status).toBe(401);
  });

  it('renews, then after self-revocation the old certificate can neither call nor renew', async () => {
    const { pair } = await newApplication();
    const pairing = await pair();
    const original = new MtlsClient(await connect(pairing.connectorUrl, pairing.token));
    const renewed = new MtlsClient(await original.renew());
    expect(renewed.credentials.certificate).not.toBe(original.credentials.certificate);
    const a = new X509Certificate(original.credentials.certificate);
    const b = new X509Certificate(renewed.credentials.certificate);
    expect(b.subject).toBe(a.subject);
    expect(b.verify(new X509Certificate(api.ca.certPem).publicKey)).toBe(true);
    expect((await original.request('GET', '/v1/application')).status).toBe(200);
    expect((await renewed.request('GET', '/v1/application')).status).toBe(200);

    await original.revoke();
    const after = await original.request('GET', '/v1/application'); // same keep-alive connection
    expect(after.status).toBe(401);
    expect(after.body.detail).toMatch(/revoked/);
    await expect(original.renew()).rejects.toThrow(/401/);
    expect((await renewed.request('GET', '/v1/application')).status).toBe(200);
    original.close();
    renewed.close();
  });

  it('revokes every certificate of a deleted application', async () => {
    const { pair, app, adminToken } = await newApplication();
    const pairing = await pair();
    const client = new MtlsClient(await connect(pairing.connectorUrl, pairing.token));
    expect((await client.request('GET', '/v1/application')).status).toBe(200);
    expect((await call(`${api.url}/v1/applications/${app.id}`, { method: 'DELETE', token: adminToken })).status).toBe(202);
    await expect.poll(async () => (await client.request('GET', '/v1/application')).status, { timeout: 3_000, interval: 100 }).toBe(401);
    client.close();
  });
});

describe('requestCertificate', () => {
  it('is what connect() does after the signing request', async () => {
    const { pair } = await newApplication();
    const pairing = await pair();
    const credentials = await requestCertificate(await requestSigning(pairing.connectorUrl, pairing.token));
    expect(credentials.key).toMatch(/PRIVATE KEY/);
  });
});

describe('a certificate request no worker takes in time', () => {
  it('answers 503 with Retry-After after the request deadline, and the retry joins the update it left behind', { timeout: 90_000 }, async () => {
    const idle = await startTestApi();
    const workerConnection = await NativeConnection.connect({ address: inject('temporalAddress') });
    try {
      const { token } = await createTenant(idle.pool);
      const app = (await call(`${idle.url}/v1/applications`, { token, body: { name: uniqueName('app') } })).body;
      const pairing = (await call(`${idle.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token })).body;
      const signing = (await call(pairing.connectorUrl, { headers: { 'connector-token': pairing.token } })).body;
      const csr = createCsr(rsaKey(), parseSubject(signing.subject));
      const send = () => call(`${idle.url}/connector/v1/certificates`, { body: { csr }, headers: { 'connector-token': signing.csrToken } });

      const late = await send();
      expect(late.status).toBe(503);
      expect(late.headers.get('retry-after')).toBe('2');

      const worker = await Worker.create({
        connection: workerConnection,
        taskQueue: idle.taskQueue,
        workflowBundle: await workflowBundle(),
        activities: createActivities(testActivityDeps(idle.pool, idle.temporal, { connector: idle.connector })),
      });
      await worker.runUntil(async () => {
        const answered = await send();
        expect(answered.status).toBe(201);
        expect(answered.body.clientCertificate).toMatch(/BEGIN CERTIFICATE/);
        await expect.poll(async () => (await call(`${idle.url}/v1/operations/${pairing.operationId}`, { token })).body.state, { timeout: 30_000 }).toBe('SUCCEEDED');
      });
      expect((await idle.pool.query('SELECT 1 FROM certificates WHERE object_id = $1', [app.id])).rowCount).toBe(1);
    } finally {
      await workerConnection.close();
      await idle.stop();
    }
  });
});
