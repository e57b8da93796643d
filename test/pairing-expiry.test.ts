import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApplication } from '../db/applications.js';
import { insertOperation } from '../db/operations.js';
import { createPool } from '../db/pool.js';
import { issueToken, peekToken } from '../db/tokens.js';
import { loadConfig } from '../lib/config.js';
import { pairing, pairingStatus, signingRequested } from '../workflows/pairing.js';
import { applicationAttributes } from '../workflows/ids.js';
import { createTenant, timeSkippingWorker, uniqueName } from './helpers.js';

const connector = loadConfig({}).connector;
const pool = createPool(inject('databaseUrl'));
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ env, stop } = await timeSkippingWorker('pairing-expiry', pool));
});
afterAll(async () => {
  await stop();
  await pool.end();
});

/** What `POST /v1/applications/{id}/pairing` does before it starts the workflow. */
async function preparePairing() {
  const { tenant } = await createTenant(pool);
  const app = await createApplication(pool, tenant.id, { name: uniqueName('app') });
  const op = await insertOperation(pool, { tenantId: tenant.id, type: 'PAIRING', resourceId: app.id, stage: 'MARKING_PAIRING', workflowId: `pairing:${app.id}` });
  const { token } = await issueToken(pool, { tenantId: tenant.id, objectKind: 'application', objectId: app.id, purpose: 'application' }, connector.ttl.application);
  const start = () =>
    env.client.workflow.start(pairing, {
      workflowId: `pairing:${app.id}`,
      taskQueue: 'pairing-expiry',
      args: [{ tenantId: tenant.id, applicationId: app.id, operationId: op.id, tokenTtlSeconds: connector.ttl.application, csrTtlSeconds: connector.ttl.csr }],
      typedSearchAttributes: applicationAttributes(tenant.id, app.id, 'MARKING_PAIRING'),
    });
  return { app, op, token, start };
}

describe('pairing expiry (time-skipping)', () => {
  it('ends expired after the token lifetime: tokens invalidated, application back to INITIAL, operation FAILED', async () => {
    const { app, op, token, start } = await preparePairing();
    const began = await env.currentTimeMs();
    const wallStart = Date.now();
    const handle = await start();
    expect(await handle.result()).toEqual({ outcome: 'EXPIRED' });
    expect((await env.currentTimeMs()) - began).toBeGreaterThanOrEqual(5 * 60_000);
    expect(Date.now() - wallStart).toBeLessThan(20_000);

    const { rows } = await pool.query('SELECT condition FROM applications WHERE id = $1', [app.id]);
    expect(rows[0].condition).toBe('INITIAL');
    const operation = await pool.query('SELECT state, stage, message FROM operations WHERE id = $1', [op.id]);
    expect(operation.rows[0]).toMatchObject({ state: 'FAILED', stage: 'EXPIRED' });
    // The database clock has not reached expires_at; the workflow invalidated the token itself.
    expect(await peekToken(pool, token, ['application'])).toBeUndefined();
  });

  it('waits the CSR token lifetime after a signing request before expiring', async () => {
    const { start } = await preparePairing();
    const began = await env.currentTimeMs();
    const handle = await start();
    await env.sleep('4 minutes');
    await handle.signal(signingRequested);
    await env.sleep('2 minutes');
    const status = await handle.query(pairingStatus);
    expect(status.stage).toBe('WAITING_FOR_CSR');
    expect(await handle.result()).toEqual({ outcome: 'EXPIRED' });
    expect((await env.currentTimeMs()) - began).toBeGreaterThanOrEqual(9 * 60_000);
  });
});
