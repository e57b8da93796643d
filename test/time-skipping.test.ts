import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeSkipping, workflowBundle } from './helpers.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

const fixtures = fileURLToPath(new URL('./fixtures/timers.ts', import.meta.url));

describe('time-skipping harness', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await timeSkipping();
  });
  afterAll(() => env?.teardown());

  it('completes a 24-hour durable timer in seconds of wall time', async () => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'time-skipping',
      workflowBundle: await workflowBundle(fixtures),
    });
    const wallStart = Date.now();
    const workflowStart = await env.currentTimeMs();
    const result = await worker.runUntil(env.client.workflow.execute('waitADay', { taskQueue: 'time-skipping', workflowId: 'wait-a-day' }));
    expect(result).toBe('woke up');
    expect((await env.currentTimeMs()) - workflowStart).toBeGreaterThanOrEqual(24 * 3600 * 1000);
    expect(Date.now() - wallStart).toBeLessThan(30_000);
  });
});
