// The reconciler under a time-skipping server: operations are the outbox, and every IN_PROGRESS
// operation ends up with a workflow that finishes it, or FAILED with the reason.
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApplication } from '../db/applications.js';
import { insertDefinition } from '../db/definitions.js';
import { insertOperation } from '../db/operations.js';
import { createPool } from '../db/pool.js';
import { createRuntime } from '../db/runtimes.js';
import { insertAssignment, scenarioIdOf } from '../db/scenario-assignments.js';
import { createScenario } from '../db/scenarios.js';
import { issueToken, peekToken } from '../db/tokens.js';
import { loadConfig } from '../lib/config.js';
import { ensureReconciler } from '../services/reconciler.js';
import { pairingStart, startFlow } from '../services/workflow-starts.js';
import { reconcilerStatus } from '../workflows/reconciler.js';
import { MeridianApplicationId, workflowId } from '../workflows/ids.js';
import { openApi30 } from './fixtures/specs.js';
import { createTenant, fullProvider, timeSkippingWorker, uniqueName } from './helpers.js';

const TASK_QUEUE = 'reconciler';
const pool = createPool(inject('databaseUrl'));
const connector = loadConfig({}).connector;
/** Timeouts of the worker's configuration, recognisable in a re-driven provisioning's input. */
const provisioning = { provisionTimeoutMs: 123_000, agentTimeoutMs: 456_000, deprovisionTimeoutMs: 78_000, agentDesign: 'watch' as const };


let env: TestWorkflowEnvironment;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ env, stop } = await timeSkippingWorker(TASK_QUEUE, pool, (env) => ({
    provisioning,
    providers: { local: fullProvider, simulated: fullProvider },
    // A plain client: the environment's own locks and unlocks time skipping around every result(),
    // which the activity asks for, and would stall the test's env.sleep.
    temporal: new Client({ connection: env.connection, namespace: env.namespace }),
  })));
});
afterAll(async () => {
  await stop();
  await pool.end();
});

const operation = async (id: string) => (await pool.query('SELECT state, stage, message FROM operations WHERE id = $1', [id])).rows[0];
const exists = (id: string) =>
  env.client.workflow
    .getHandle(id)
    .describe()
    .then(
      () => true,
      () => false,
    );

/**
 * Until the workflow waits on a timer with no task in flight. (The test server keeps time from
 * skipping forever when a workflow is terminated while a workflow task is scheduled or running.)
 */
async function waitingOnTimer(handle: { fetchHistory(): Promise<{ events?: Array<{ timerStartedEventAttributes?: unknown }> | null }> }) {
  // Decoded histories hold null, not undefined, for the attributes an event does not have.
  await expect.poll(async () => !!(await handle.fetchHistory()).events?.at(-1)?.timerStartedEventAttributes, { timeout: 20_000 }).toBe(true);
}

/** The input a workflow was started with. */
async function startInput(id: string) {
  const history = await env.client.workflow.getHandle(id).fetchHistory();
  return JSON.parse(Buffer.from(history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!.data!).toString('utf8'));
}

/**
 * A scoped reconciler of this test's tenant: 15 s rounds, 30 s grace unless told (with none, its first
 * round, at once, looks at everything already written).
 */
async function reconcilerFor(tenantId: string, { graceSeconds = 30, roundsPerRun = 100 } = {}) {
  const scope = uniqueName('scope');
  const options = { scope, tenantIds: [tenantId], intervalSeconds: 15, graceSeconds, roundsPerRun };
  expect(await ensureReconciler(env.client, TASK_QUEUE, options)).toBe('started');
  // Idempotent: a second worker's start finds it running.
  expect(await ensureReconciler(env.client, TASK_QUEUE, options)).toBe('running');
  return env.client.workflow.getHandle(workflowId.reconciler(scope));
}

describe('the reconciler (time-skipping)', () => {
  it('starts the workflow of an operation whose start was lost, with the arguments and attributes the API would give, after the grace period', async () => {
    const { tenant } = await createTenant(pool);
    const app = await createApplication(pool, tenant.id, { name: uniqueName('app') });
    // What POST /v1/application/apis committed before Temporal failed to start its workflow.
    const definition = await insertDefinition(pool, { tenantId: tenant.id, applicationId: app.id, kind: 'API' }, {
      name: uniqueName('api'),
      targetUrl: 'http://127.0.0.1:9/api',
      spec: { type: 'OPENAPI', format: 'JSON', data: JSON.stringify(openApi30) },
    });
    const registration = await insertOperation(pool, { tenantId: tenant.id, type: 'API_REGISTRATION', resourceId: definition.id, stage: 'VALIDATING', workflowId: workflowId.registration(definition.id) });
    // What POST /v1/runtimes and DELETE /v1/runtimes/{id} committed before the same.
    const runtime = await createRuntime(pool, tenant.id, { name: uniqueName('rt'), provider: 'simulated' });
    const provisioningOp = await insertOperation(pool, { tenantId: tenant.id, type: 'PROVISIONING', resourceId: runtime.id, stage: 'REGISTERING', workflowId: workflowId.provisioning(runtime.id) });
    const doomed = await createRuntime(pool, tenant.id, { name: uniqueName('rt'), provider: 'local' });
    const deprovisioningOp = await insertOperation(pool, { tenantId: tenant.id, type: 'DEPROVISIONING', resourceId: doomed.id, stage: 'REVOKING', workflowId: workflowId.deprovisioning(doomed.id) });
    // What POST /v1/scenarios/{name}/assignments committed before the same.
    const scenario = uniqueName('S');
    await createScenario(pool, tenant.id, scenario);
    const labelled = await createRuntime(pool, tenant.id, { name: uniqueName('rt'), provider: 'simulated', labels: { fleet: 'blue' } });
    await insertAssignment(pool, tenant.id, scenario, 'fleet', 'blue');
    const scenarioId = (await scenarioIdOf(pool, tenant.id, scenario))!;
    const assignmentOp = await insertOperation(pool, { tenantId: tenant.id, type: 'SCENARIO_ASSIGNMENT', resourceId: scenarioId, stage: 'ASSIGNING', workflowId: workflowId.scenarioAssignment(scenarioId) });

    const reconciler = await reconcilerFor(tenant.id, { roundsPerRun: 2 });
    const firstRun = (await reconciler.describe()).runId;
    await expect.poll(async () => (await reconciler.query(reconcilerStatus)).totals.rounds, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    // Within the grace period the API may still be starting it: left alone.
    expect(await exists(workflowId.registration(definition.id))).toBe(false);
    expect(await operation(registration.id)).toMatchObject({ state: 'IN_PROGRESS' });

    await env.sleep('1 minute');
    await expect.poll(async () => (await operation(registration.id)).state, { timeout: 30_000 }).toBe('SUCCEEDED');
    const redriven = await env.client.workflow.getHandle(workflowId.registration(definition.id)).describe();
    expect(redriven.type).toBe('apiRegistration');
    expect(redriven.memo).toEqual({ operationId: registration.id });
    expect(redriven.typedSearchAttributes.get(MeridianApplicationId)).toBe(app.id);
    const spec = (await pool.query('SELECT spec_status FROM definitions WHERE id = $1', [definition.id])).rows[0];
    expect(spec.spec_status).toBe('SUCCEEDED');

    // The provisioning ran again with the provider of its runtime row and the worker's timeouts (and
    // failed, compensated, as the provider has no capacity).
    await expect.poll(async () => (await operation(provisioningOp.id)).state, { timeout: 30_000 }).toBe('FAILED');
    expect((await operation(provisioningOp.id)).message).toMatch(/no capacity left in this test/);
    expect(await startInput(workflowId.provisioning(runtime.id))).toEqual({
      tenantId: tenant.id,
      runtimeId: runtime.id,
      provider: 'simulated',
      operationId: provisioningOp.id,
      provisionTimeoutMs: 123_000,
      agentTimeoutMs: 456_000,
      agentDesign: 'watch',
    });
    // The deprovisioning ran to its end: the runtime is gone.
    await expect.poll(async () => (await operation(deprovisioningOp.id)).state, { timeout: 30_000 }).toBe('SUCCEEDED');
    expect(await startInput(workflowId.deprovisioning(doomed.id))).toEqual({
      tenantId: tenant.id,
      runtimeId: doomed.id,
      provider: 'local',
      operationId: deprovisioningOp.id,
      deprovisionTimeoutMs: 78_000,
    });
    expect((await pool.query('SELECT 1 FROM runtimes WHERE id = $1', [doomed.id])).rowCount).toBe(0);
    // The assignment's pass ran: the labelled runtime joined.
    await expect.poll(async () => (await operation(assignmentOp.id)).state, { timeout: 30_000 }).toBe('SUCCEEDED');
    expect(await startInput(workflowId.scenarioAssignment(scenarioId))).toEqual({ tenantId: tenant.id, scenario, operationId: assignmentOp.id });
    const joined = await pool.query('SELECT by_hand, by_assignment FROM runtime_scenarios WHERE runtime_id = $1 AND scenario = $2', [labelled.id, scenario]);
    expect(joined.rows).toEqual([{ by_hand: false, by_assignment: true }]);
    // It continued as new every two rounds, carrying its totals.
    expect((await reconciler.describe()).runId).not.toBe(firstRun);
    expect((await reconciler.query(reconcilerStatus)).totals).toMatchObject({ rounds: expect.any(Number), redriven: 4, failed: 0, errors: 0 });
    expect((await reconciler.query(reconcilerStatus)).totals.rounds).toBeGreaterThanOrEqual(4);
  });

  it('fails an operation whose workflow ended without finishing it, naming the workflow and how it ended', async () => {
    const { tenant } = await createTenant(pool);
    const app = await createApplication(pool, tenant.id, { name: uniqueName('app') });
    const op = await insertOperation(pool, { tenantId: tenant.id, type: 'PAIRING', resourceId: app.id, stage: 'MARKING_PAIRING', workflowId: workflowId.pairing(app.id) });
    const { token } = await issueToken(pool, { tenantId: tenant.id, objectKind: 'application', objectId: app.id, purpose: 'application' }, connector.ttl.application);
    const pairing = await startFlow(env.client, pairingStart({ taskQueue: TASK_QUEUE, tenantId: tenant.id, applicationId: app.id, operationId: op.id, connector }));
    await waitingOnTimer(pairing);
    await pairing.terminate('an operator stopped it');

    // And a pairing whose workflow is running (waiting for its signing request): it is left to it.
    const other = await createApplication(pool, tenant.id, { name: uniqueName('app') });
    const busy = await insertOperation(pool, { tenantId: tenant.id, type: 'PAIRING', resourceId: other.id, stage: 'MARKING_PAIRING', workflowId: workflowId.pairing(other.id) });
    await waitingOnTimer(await startFlow(env.client, pairingStart({ taskQueue: TASK_QUEUE, tenantId: tenant.id, applicationId: other.id, operationId: busy.id, connector })));

    const reconciler = await reconcilerFor(tenant.id, { graceSeconds: 0 });
    await expect.poll(async () => (await operation(op.id)).state, { timeout: 30_000 }).toBe('FAILED');
    const failed = await operation(op.id);
    expect(failed.message).toBe(`the workflow pairing:${app.id} was terminated (an operator stopped it) without finishing the operation`);
    // A pairing that can no longer finish leaves no exchangeable token behind.
    expect(await peekToken(pool, token, ['application'])).toBeUndefined();

    expect(await operation(busy.id)).toMatchObject({ state: 'IN_PROGRESS', stage: 'WAITING_FOR_SIGNING_REQUEST' });
    expect((await reconciler.query(reconcilerStatus)).totals).toMatchObject({ redriven: 0, failed: 1, errors: 0 });
  });

  // Last: its workflow is terminated before any worker took its first task, which keeps the test
  // server from skipping time afterwards.
  it('fails a provisioning whose workflow ended, with the runtime, and operations that can no longer run', async () => {
    const { tenant } = await createTenant(pool);
    const runtime = await createRuntime(pool, tenant.id, { name: uniqueName('rt'), provider: 'simulated' });
    const op = await insertOperation(pool, { tenantId: tenant.id, type: 'PROVISIONING', resourceId: runtime.id, stage: 'REGISTERING', workflowId: workflowId.provisioning(runtime.id) });
    const ended = await env.client.workflow.start('provisioning', {
      workflowId: workflowId.provisioning(runtime.id),
      taskQueue: 'nobody-polls-this',
      args: [{}],
      memo: { operationId: op.id },
    });
    await ended.terminate('worker lost');

    // A registration whose definition was deleted before its workflow ever started.
    const app = await createApplication(pool, tenant.id, { name: uniqueName('app') });
    const definition = await insertDefinition(pool, { tenantId: tenant.id, applicationId: app.id, kind: 'EVENT' }, { name: uniqueName('evt'), spec: { type: 'ASYNCAPI', format: 'JSON', data: '{}' } });
    const orphan = await insertOperation(pool, { tenantId: tenant.id, type: 'API_REGISTRATION', resourceId: definition.id, stage: 'VALIDATING', workflowId: workflowId.registration(definition.id) });
    await pool.query('DELETE FROM definitions WHERE id = $1', [definition.id]);

    await reconcilerFor(tenant.id, { graceSeconds: 0 });
    await expect.poll(async () => (await operation(op.id)).state, { timeout: 30_000 }).toBe('FAILED');
    const reason = `the workflow provisioning:${runtime.id} was terminated (worker lost) without finishing the operation`;
    expect((await operation(op.id)).message).toBe(reason);
    const row = (await pool.query('SELECT condition, condition_message FROM runtimes WHERE id = $1', [runtime.id])).rows[0];
    expect(row).toEqual({ condition: 'FAILED', condition_message: `provisioning failed: ${reason}` });
    await expect.poll(async () => (await operation(orphan.id)).state, { timeout: 30_000 }).toBe('FAILED');
    expect((await operation(orphan.id)).message).toBe('the definition no longer exists');
    expect(await exists(workflowId.registration(definition.id))).toBe(false);
  });
});
