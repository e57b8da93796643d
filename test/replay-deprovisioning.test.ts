// Deprovisioning histories written before the bound on the provider (workflows/deprovisioning.ts,
// patch `bounded-deprovisioning`) replay as they ran: to the end, or failed where the provider refused.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../worker/worker.js';

const history = (name: string) =>
  temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(fileURLToPath(new URL(`./fixtures/histories/${name}.json`, import.meta.url)), 'utf8')));

describe('replay of deprovisionings recorded before the bound', () => {
  it('replays one that ran to its end', async () => {
    const recorded = history('deprovisioning-before-bound');
    expect(recorded.events.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
    await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, recorded, 'deprovisioning:r1')).resolves.toBeUndefined();
  });

  it('replays one that failed when the provider refused, failing again instead of recording FAILED', async () => {
    const recorded = history('deprovisioning-before-bound-provider-refused');
    expect(recorded.events.at(-1)?.workflowExecutionFailedEventAttributes).toBeTruthy();
    await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, recorded, 'deprovisioning:r2')).resolves.toBeUndefined();
  });
});
