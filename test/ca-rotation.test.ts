// CA rotation end to end (issue #19): a paired application and connected runtimes keep calling through
// prepare, activate and retire with zero failed requests; retirement is refused while a live certificate
// still depends on the old CA. Runs on a database of its own: the authorities are global to a database,
// and the other suites share theirs.
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../cli/program.js';
import { MtlsClient, type Credentials } from '../client/connector.js';
import { rotationById, type RotationRow } from '../db/authorities.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { RotationRefused, caStatus, requestRetirement, startCaRotation } from '../services/ca-rotation.js';
import { signedBy } from '../trust/ca.js';
import { workflowId } from '../workflows/ids.js';
import { agentStatus } from '../workflows/agent.js';
import { workerLog, connectedRuntimeOf, createTenant, emptyDatabase, pairedApplication, receiver, startTestApi, uniqueName, call, type TestApi } from './helpers.js';

const RUNTIMES = 6;
const APPLICATIONS = 3;

/** Every request of the load, and those that failed (anything but 200/304/201, or no answer). */
const load = { requests: 0, failures: [] as string[] };

let api: TestApi;
let token: string;
let tenantId: string;
let runtimeIds: string[] = [];
let databaseUrl: string;

beforeAll(async () => {
  databaseUrl = await emptyDatabase();
  const pool = createPool(databaseUrl);
  await migrate(pool);
  await pool.end();
  api = await startTestApi({
    worker: true,
    databaseUrl,
    poolSize: 10,
    // Renewed certificates keep working 3 s (not 10 minutes): retirement waits for that.
    connector: { renewalOverlapSeconds: 3 },
    agentObserver: {
      fetched: (runtimeId, status) => {
        load.requests++;
        if (status !== 200 && status !== 304) load.failures.push(`runtime ${runtimeId}: HTTP ${status}`);
      },
      unanswered: (runtimeId, error) => {
        load.requests++;
        load.failures.push(`runtime ${runtimeId}: ${error.message}`);
      },
    },
  });
  const tenant = await createTenant(api.pool);
  token = tenant.token;
  tenantId = tenant.tenant.id;
  runtimeIds = await Promise.all(Array.from({ length: RUNTIMES }, async () => (await connectedRuntimeOf(api, token, { provider: 'simulated', pollIntervalSeconds: 5 })).id));
}, 240_000);

afterAll(async () => {
  await api?.stop();
});

/**
 * An application that keeps calling its configuration, as the reference client would: it adopts a new trust
 * bundle and renews when the configuration's issuing CA did not sign its certificate. Every answer counts.
 */
function callingApplication(initial: Credentials, renews = true) {
  let client = new MtlsClient(initial);
  let etag: string | undefined;
  let stopped = false;
  let renewals = 0;
  const loop = (async () => {
    while (!stopped) {
      load.requests++;
      try {
        const res = await client.request('GET', '/v1/application/configuration', undefined, etag ? { 'if-none-match': etag } : {});
        if (res.status === 200) {
          etag = String(res.headers.etag);
          if (renews) {
            const before = client.credentials.certificate;
            client = await client.followTrust(res.body);
            if (client.credentials.certificate !== before) renewals++;
          }
        } else if (res.status !== 304) {
          load.failures.push(`application: HTTP ${res.status} ${res.body?.detail ?? ''}`);
        }
      } catch (error) {
        load.failures.push(`application: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    get client() {
      return client;
    },
    get renewals() {
      return renewals;
    },
    async stop() {
      stopped = true;
      await loop;
      client.close();
    },
  };
}

/** The rotation as last read, to say where a wait stopped. */
let lastSeen: RotationRow | undefined;
async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(lastSeen)} ${workerLog().split('\n').filter((l) => /rror|fail/i.test(l)).slice(-8).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Whether the mTLS listener's certificate verifies against `caPem` alone. */
function listenerTrustedBy(caPem: string): Promise<boolean> {
  const url = new URL(api.mtlsUrl);
  return new Promise((resolve) => {
    const req = https.get({ host: url.hostname, port: url.port, path: '/healthz', ca: caPem, agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
  });
}

describe('CA rotation', () => {
  it('rotates the CA under load with zero failed requests, refuses retirement while a working certificate depends on the old CA, and is operated with meridian ca', async () => {
    const hooks = await receiver();
    const webhookApp = await pairedApplication(api);
    expect((await webhookApp.client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${hooks.url}/hooks` })).status).toBe(201);
    const paired = [webhookApp, ...(await Promise.all(Array.from({ length: APPLICATIONS - 1 }, () => pairedApplication(api))))];
    // One application that does not renew on its own: retirement waits for it.
    const lagging = await pairedApplication(api);
    const oldCaPem = api.ca.certPem;
    const apps = paired.map((p) => callingApplication(p.client.credentials));
    const laggard = callingApplication(lagging.client.credentials, false);

    const deps = { pool: api.pool, temporal: api.temporal, taskQueue: api.taskQueue };
    const { rotation } = await startCaRotation(deps, { retire: 'manual', propagationSeconds: 2, checkSeconds: 1, requestedBy: 'operator:test' });
    const stageOf = async () => (lastSeen = (await rotationById(api.pool, rotation.id))!);
    const prepared = await until('PREPARED', async () => ((await stageOf()).preparedAt ? stageOf() : undefined));
    expect(prepared.oldCa).toBe(new X509Certificate(oldCaPem).fingerprint256.replace(/:/g, '').toLowerCase());

    // Every holder that follows its configuration renews under the new CA; only the laggard remains.
    const activated = await until(
      'every holder but one renewed',
      async () => {
        const row = await stageOf();
        return row.stage === 'ACTIVATED' && row.progress?.remaining === 1 && row.progress.renewed === RUNTIMES + APPLICATIONS ? row : undefined;
      },
      120_000,
    );
    const newCa = (await caStatus(api.pool, oldCaPem)).authorities.find((a) => a.state === 'ACTIVE')!;
    expect(newCa.fingerprint).toBe(activated.newCa);
    expect(newCa.keyIn).toBe('database');

    // Retirement is refused, naming the application that still depends on the old CA; nothing changes.
    const refusal = await requestRetirement(deps).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RotationRefused);
    expect((refusal as Error).message).toContain(`application ${lagging.app.id}`);
    expect((await stageOf()).stage).toBe('ACTIVATED');

    // The laggard renews; then retirement goes through.
    const oldClient = laggard.client;
    await laggard.stop();
    const renewed = new MtlsClient(await oldClient.renew());
    const laggardAgain = callingApplication(renewed.credentials, false);
    await until('nothing remaining', async () => (await stageOf()).progress?.remaining === 0);
    await requestRetirement(deps);
    const finished: RotationRow = await until('SUCCEEDED', async () => {
      const row = await stageOf();
      return row.state === 'SUCCEEDED' ? row : undefined;
    });
    expect(finished.stage).toBe('RETIRED');
    // Calls go on after the retirement, through the listener's new certificate.
    await until('the listener presents a certificate of the new CA', async () => listenerTrustedBy((await renewed.request('GET', '/v1/application/configuration')).body.issuingCa));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await Promise.all([...apps.map((a) => a.stop()), laggardAgain.stop()]);

    const phases = {
      prepareMs: finished.preparedAt!.getTime() - finished.startedAt.getTime(),
      activateMs: finished.activatedAt!.getTime() - finished.preparedAt!.getTime(),
      retireMs: finished.finishedAt!.getTime() - finished.activatedAt!.getTime(),
    };
    console.log(`CA rotation under load: ${load.requests} requests, ${load.failures.length} failed, phases ${JSON.stringify(phases)}`);
    expect(load.failures).toEqual([]);
    expect(load.requests).toBeGreaterThan(100);
    expect(apps.every((a) => a.renewals >= 1)).toBe(true);

    // Every runtime renewed under the new CA (its agent says so) and trusts only the new CA now.
    for (const runtimeId of runtimeIds) {
      const status = await api.temporal.workflow.getHandle(workflowId.agent(runtimeId)).query(agentStatus);
      expect(status.renewals).toBeGreaterThanOrEqual(1);
    }
    const configuration = (await renewed.request('GET', '/v1/application/configuration')).body;
    const newCaPem = configuration.issuingCa as string;
    expect(configuration.trustBundle).toBe(newCaPem);
    expect(signedBy(renewed.credentials.certificate, newCaPem)).toBe(true);
    expect(await listenerTrustedBy(newCaPem)).toBe(true);
    expect(await listenerTrustedBy(oldCaPem)).toBe(false);

    // The laggard's old certificate, of the retired CA, is refused.
    const stale = new MtlsClient({ ...oldClient.credentials, caCertificate: newCaPem });
    expect((await stale.request('GET', '/v1/application')).status).toBe(401);
    stale.close();
    renewed.close();

    // The application with a webhook was told at each phase, without a runtime in the event.
    const told = hooks.requests.map((r) => JSON.parse(r.body)).filter((b) => b.reason === 'certificate-authority');
    expect(told.length).toBe(3);
    expect(told[0]).toMatchObject({ type: 'configuration.changed', runtime: null, applicationId: webhookApp.app.id });
    await hooks.close();

    // A runtime created after the rotation gets a certificate of the new CA.
    const late = await connectedRuntimeOf(api, token, { provider: 'simulated', name: uniqueName('late') });
    const certificates = (await call(`${api.url}/v1/runtimes/${late.id}/certificates`, { token })).body.items;
    expect(certificates).toHaveLength(1);
    const issued = await api.pool.query('SELECT issuer FROM certificates WHERE tenant_id = $1 AND object_id = $2', [tenantId, late.id]);
    expect(issued.rows[0].issuer).toBe(finished.newCa);

    // Operators follow it with meridian ca: the CAs and the rotation; a retirement with nothing in progress is refused.
    const env = { DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: inject('temporalAddress'), MERIDIAN_TASK_QUEUE: api.taskQueue, MERIDIAN_DATA_DIR: inject('caDir') };
    const cli = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await runCli(args, { out: (t) => void (out += t), err: (t) => void (err += t), interactive: false }, env);
      return { code, out, err };
    };
    const status = await cli('ca', 'status', '--json');
    expect(status.code).toBe(0);
    const { authorities, rotations } = JSON.parse(status.out);
    expect(authorities.map((a: { state: string }) => a.state).sort()).toEqual(['ACTIVE', 'RETIRED']);
    expect(rotations[0]).toMatchObject({ id: rotation.id, state: 'SUCCEEDED', stage: 'RETIRED', requestedBy: 'operator:test' });
    const retire = await cli('ca', 'retire');
    expect(retire.code).toBe(1);
    expect(retire.err).toContain('no CA rotation is in progress');
    expect((await cli('ca', 'status')).out).toContain('RETIRED');
  }, 300_000);
});
