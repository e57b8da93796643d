import { ApplicationFailure } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentActivities } from '../runtime/activities.js';
import { agentStatus, configChanged, runtimeAgent, type AgentState } from '../workflows/agent.js';
import { timeSkipping, uniqueName, workflowBundle } from './helpers.js';

// Workflow unit tests: the agent's activities are replaced by a scripted "Meridian" whose
// configuration version and certificate lifetime the test controls.
const AGENT = fileURLToPath(new URL('../workflows/agent.ts', import.meta.url));
const MINUTE = 60_000;

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await timeSkipping();
});
afterAll(() => env?.teardown());

function scriptedMeridian(certificateLifeMs: number) {
  const log = { syncs: [] as number[], watches: [] as number[], applied: new Map<number, number>(), renewals: [] as number[] };
  let serverVersion = 1;
  const life = (from: number) => ({ notBefore: new Date(from).toISOString(), notAfter: new Date(from + certificateLifeMs).toISOString() });
  const now = () => env.currentTimeMs();
  const activities: AgentActivities = {
    connectRuntime: async () => life(await now()),
    reconnectRuntime: async () => life(await now()),
    reportConnected: async () => ({ eventUrl: 'http://127.0.0.1:9/events' }),
    syncConfiguration: async ({ etag }) => {
      log.syncs.push(await now());
      if (etag === `"${serverVersion}"`) return { changed: false, etag };
      log.applied.set(serverVersion, (log.applied.get(serverVersion) ?? 0) + 1);
      return { changed: true, configVersion: serverVersion, etag: `"${serverVersion}"`, digest: `d${serverVersion}`, applications: 1 };
    },
    // The long poll, answered at once: the test server skips no time while an activity runs, so this
    // watch never blocks; the workflow then waits out the poll interval itself (its guard against a
    // watch that returns early), which is what time skipping moves forward.
    watchConfiguration: async ({ etag }) => {
      log.watches.push(await now());
      if (etag === `"${serverVersion}"`) return { changed: false, etag };
      log.applied.set(serverVersion, (log.applied.get(serverVersion) ?? 0) + 1);
      return { changed: true, configVersion: serverVersion, etag: `"${serverVersion}"`, digest: `d${serverVersion}`, applications: 1 };
    },
    renewCertificate: async () => {
      const at = await now();
      log.renewals.push(at);
      return life(at);
    },
  };
  return { log, activities, setVersion: (v: number) => (serverVersion = v) };
}

async function runAgent(activities: AgentActivities, state: Partial<AgentState>) {
  const taskQueue = uniqueName('agent');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(AGENT), activities });
  const running = worker.run();
  const handle = await env.client.workflow.start(runtimeAgent, {
    workflowId: uniqueName('agent'),
    taskQueue,
    args: [{ runtimeId: 'rt', pollIntervalMs: 30_000, connected: false, consecutiveErrors: 0, applies: 0, renewals: 0, ...state }],
  });
  return {
    handle,
    stop: async () => {
      await handle.terminate();
      worker.shutdown();
      await running;
    },
  };
}

describe('runtime agent loop (time-skipping)', () => {
  it('applies each version once, ignores 304s, renews at 70 % of the certificate life and keeps its state across continue-as-new', async () => {
    const meridian = scriptedMeridian(10 * MINUTE);
    const started = await env.currentTimeMs();
    const { handle, stop } = await runAgent(meridian.activities, { pollsPerRun: 5 });
    await env.sleep('2 minutes');
    meridian.setVersion(2);
    await env.sleep('3 minutes');
    meridian.setVersion(3);
    await env.sleep('11 minutes');
    const status = await handle.query(agentStatus);
    await stop();

    expect([...meridian.log.applied.entries()]).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(meridian.log.syncs.length).toBeGreaterThan(25); // every 30 s, nearly all answered 304
    expect(status).toMatchObject({ connected: true, lastAppliedVersion: 3, applies: 3, consecutiveErrors: 0 });
    expect(status.runs).toBeGreaterThan(3); // continued as new every 5 polls, state intact
    const renewedAfter = meridian.log.renewals.map((at) => at - started);
    expect(renewedAfter.length).toBe(2);
    expect(renewedAfter[0]).toBeGreaterThanOrEqual(7 * MINUTE);
    expect(renewedAfter[0]).toBeLessThan(7.6 * MINUTE);
    expect(status.renewals).toBe(2);
  });

  it('fetches at once on a configChanged hint, even across continue-as-new', async () => {
    const meridian = scriptedMeridian(90 * 24 * 60 * MINUTE);
    const { handle, stop } = await runAgent(meridian.activities, { pollIntervalMs: 60 * MINUTE, pollsPerRun: 1 });
    await env.sleep('5 minutes');
    expect(meridian.log.syncs).toHaveLength(1);
    meridian.setVersion(2);
    const hintedAt = await env.currentTimeMs();
    await handle.signal(configChanged);
    await env.sleep('10 seconds');
    expect(meridian.log.syncs.length).toBe(2);
    expect(meridian.log.syncs[1]! - hintedAt).toBeLessThan(10_000);
    expect((await handle.query(agentStatus)).lastAppliedVersion).toBe(2);
    await stop();
  });

  it('backs off on fetch errors and shows them in status, without crash-looping', async () => {
    const meridian = scriptedMeridian(90 * 24 * 60 * MINUTE);
    let failures = 0;
    const failing = { ...meridian.activities, syncConfiguration: async () => { failures++; throw new Error('Meridian unreachable'); } };
    const { handle, stop } = await runAgent(failing, {});
    await env.sleep('10 minutes');
    const status = await handle.query(agentStatus);
    await stop();
    expect(status.consecutiveErrors).toBeGreaterThan(2);
    expect(status.lastError).toMatch(/Meridian unreachable/);
    expect(failures).toBeLessThan(10); // 30 s, 60 s, 120 s, 240 s … not every 30 s
  });
});

describe('runtime agent, watch design (time-skipping)', () => {
  it('applies each version once, renews at 70 % of the certificate life and keeps its state across continue-as-new', async () => {
    const meridian = scriptedMeridian(10 * MINUTE);
    const started = await env.currentTimeMs();
    const { handle, stop } = await runAgent(meridian.activities, { design: 'watch', pollsPerRun: 2 });
    await env.sleep('2 minutes');
    meridian.setVersion(2);
    await env.sleep('3 minutes');
    meridian.setVersion(3);
    await env.sleep('11 minutes');
    const status = await handle.query(agentStatus);
    await stop();

    expect([...meridian.log.applied.entries()]).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(meridian.log.syncs).toHaveLength(0);
    // At most one watch per poll interval even when every watch returns at once.
    expect(meridian.log.watches.length).toBeLessThanOrEqual(16 * 2 + 3);
    expect(status).toMatchObject({ design: 'watch', connected: true, lastAppliedVersion: 3, applies: 3, consecutiveErrors: 0, renewals: 2 });
    expect(status.runs).toBeGreaterThan(2); // continued as new every 2 watches, state intact
    const renewedAfter = meridian.log.renewals.map((at) => at - started);
    expect(renewedAfter[0]).toBeGreaterThanOrEqual(7 * MINUTE);
    expect(renewedAfter[0]).toBeLessThan(7.6 * MINUTE);
  });

  it('counts a version once when a watch is run again after it applied it (a worker restart mid-watch)', async () => {
    const meridian = scriptedMeridian(90 * 24 * 60 * MINUTE);
    let attempts = 0;
    const crashing: AgentActivities = {
      ...meridian.activities,
      // The first watch applies version 1 and dies before it reports; its re-run answers the same version.
      watchConfiguration: async (input) => {
        const result = await meridian.activities.watchConfiguration(input);
        if (++attempts === 1) throw new Error('worker died after applying');
        return result;
      },
    };
    const { handle, stop } = await runAgent(crashing, { design: 'watch' });
    await env.sleep('2 minutes');
    const status = await handle.query(agentStatus);
    await stop();
    expect(status).toMatchObject({ lastAppliedVersion: 1, applies: 1, consecutiveErrors: 0 });
  });

  it('backs off when its certificate is refused, instead of failing', async () => {
    const meridian = scriptedMeridian(90 * 24 * 60 * MINUTE);
    let watches = 0;
    const refused: AgentActivities = {
      ...meridian.activities,
      watchConfiguration: async () => {
        watches++;
        throw ApplicationFailure.nonRetryable('the runtime certificate was refused', 'CertificateRefused');
      },
    };
    const { handle, stop } = await runAgent(refused, { design: 'watch' });
    await env.sleep('10 minutes');
    const described = await handle.describe();
    const status = await handle.query(agentStatus);
    await stop();
    expect(described.status.name).toBe('RUNNING');
    expect(status.lastError).toMatch(/certificate was refused/);
    expect(watches).toBeLessThan(10);
  });

  it('backs off after a failed watch and shows the failure in status', async () => {
    const meridian = scriptedMeridian(90 * 24 * 60 * MINUTE);
    let watches = 0;
    const failing: AgentActivities = { ...meridian.activities, watchConfiguration: async () => ({ changed: false, error: `Meridian unreachable (${++watches})` }) };
    const { handle, stop } = await runAgent(failing, { design: 'watch' });
    await env.sleep('10 minutes');
    const status = await handle.query(agentStatus);
    await stop();
    expect(status.consecutiveErrors).toBeGreaterThan(2);
    expect(status.lastError).toMatch(/Meridian unreachable/);
    expect(watches).toBeLessThan(10); // 30 s, 60 s, 120 s, 240 s … between watches
  });
});
