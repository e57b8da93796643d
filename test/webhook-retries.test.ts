import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApplication } from '../db/applications.js';
import { createPool } from '../db/pool.js';
import { notifyApplication } from '../workflows/notify.js';
import { createTenant, receiver, timeSkippingWorker, uniqueName } from './helpers.js';

const pool = createPool(inject('databaseUrl'));
const HOUR = 3600_000;
let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ env, stop } = await timeSkippingWorker('webhook-retries', pool));
});
afterAll(async () => {
  await stop();
  await pool.end();
});

/** A receiver that answers 503 until `downForMs` of workflow time have passed since `start`. */
async function scenario(downForMs: number) {
  const { tenant } = await createTenant(pool);
  const app = await createApplication(pool, tenant.id, { name: uniqueName('app') });
  const start = await env.currentTimeMs();
  const seenAt: number[] = [];
  const target = await receiver(async () => {
    const now = await env.currentTimeMs();
    seenAt.push(now - start);
    return now - start < downForMs ? 503 : 200;
  });
  await pool.query("INSERT INTO webhooks (tenant_id, application_id, type, url) VALUES ($1, $2, 'CONFIGURATION_CHANGED', $3)", [tenant.id, app.id, target.url]);
  const eventId = uniqueName('evt');
  const outcomes = await env.client.workflow.execute(notifyApplication, {
    workflowId: `notify:${app.id}:${eventId}`,
    taskQueue: 'webhook-retries',
    args: [
      {
        tenantId: tenant.id,
        applicationId: app.id,
        eventId,
        event: { type: 'configuration.changed', runtime: { id: app.id, name: 'r', eventUrl: null }, configVersion: 1, occurredAt: new Date(start).toISOString() },
      },
    ],
  });
  const { rows } = await pool.query('SELECT state, attempts, last_status, last_error FROM deliveries WHERE application_id = $1', [app.id]);
  await target.close();
  // Workflow time of the last attempt (after completion the test server may skip far ahead).
  return { outcomes, target, delivery: rows[0], elapsed: seenAt[seenAt.length - 1]! };
}

describe('webhook retries over hours (time-skipping)', () => {
  it('delivers to a receiver that is down for 6 hours once it recovers, with the same delivery id', async () => {
    const { outcomes, target, delivery, elapsed } = await scenario(6 * HOUR);
    expect(outcomes).toEqual([{ deliveryId: expect.any(String), state: 'DELIVERED' }]);
    const ids = new Set(target.requests.map((r) => r.headers['meridian-delivery']));
    expect(ids).toEqual(new Set([outcomes[0]!.deliveryId]));
    expect(target.requests.length).toBeGreaterThan(20);
    expect(elapsed).toBeGreaterThanOrEqual(6 * HOUR);
    expect(elapsed).toBeLessThan(6 * HOUR + 11 * 60_000); // backoff is capped at 10 minutes
    expect(delivery).toMatchObject({ state: 'DELIVERED', last_status: 200, attempts: target.requests.length });
  });

  it('gives up on a receiver that is down for 25 hours after 24 hours, and records FAILED', async () => {
    const { outcomes, target, delivery, elapsed } = await scenario(25 * HOUR);
    expect(outcomes).toEqual([{ deliveryId: expect.any(String), state: 'FAILED' }]);
    expect(elapsed).toBeGreaterThanOrEqual(24 * HOUR - 11 * 60_000);
    expect(elapsed).toBeLessThan(25 * HOUR);
    expect(delivery).toMatchObject({ state: 'FAILED', last_status: 503, last_error: 'HTTP 503', attempts: target.requests.length });
  });
});
