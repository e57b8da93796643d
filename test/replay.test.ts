// Workflow code must replay the histories of workflows started by earlier versions: otherwise an
// upgrade breaks queries on finished workflows and leaves running ones stuck on failing tasks.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../worker/worker.js';

const history = (name: string) =>
  temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(fileURLToPath(new URL(`./fixtures/histories/${name}.json`, import.meta.url)), 'utf8')));

/** The runtime of the recorded provisioning. */
const RECORDED_RUNTIME = 'acbb4b45-d776-43ed-b4e0-15edc355a74e';

/** The runtime agent's workflow (its own bundle, run by agent workers). */
const AGENT_WORKFLOWS = fileURLToPath(new URL('../workflows/agent.ts', import.meta.url));

describe('replay of earlier histories', () => {
  it.each(['watch', 'poll'])('replays a %s agent whose certificate was refused, backing off as it did before agents recovered', async (design) => {
    const recorded = history(`agent-certificate-refused-${design}`);
    expect(JSON.stringify(recorded.toJSON())).toContain('CertificateRefused');
    await expect(Worker.runReplayHistory({ workflowsPath: AGENT_WORKFLOWS }, recorded, `agent:recorded-${design}`)).resolves.toBeUndefined();
  });

  it('replays a provisioning that notified applications inline, before the fan-out workflow existed', async () => {
    const recorded = history('provisioning-before-fan-out');
    expect(recorded.events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name === 'notifyApplication')).toBe(true);
    await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, recorded, 'provisioning:r1')).resolves.toBeUndefined();
  });

  it('replays a provisioning whose quick steps were activity tasks, before they became local activities', async () => {
    const recorded = history('provisioning-with-activity-tasks');
    expect(recorded.events.filter((e) => e.activityTaskScheduledEventAttributes).length).toBeGreaterThan(1);
    await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, recorded, `provisioning:${RECORDED_RUNTIME}`)).resolves.toBeUndefined();
  });

  it('replays a pairing whose certificate was issued in an update (one local activity at a time)', async () => {
    const recorded = history('pairing');
    expect(recorded.events.some((e) => e.workflowExecutionUpdateCompletedEventAttributes)).toBe(true);
    await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, recorded, 'pairing:a1')).resolves.toBeUndefined();
  });
});
