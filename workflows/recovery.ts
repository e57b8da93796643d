// Runtime recovery (docs/architecture.md, "Recovery"): a runtime whose certificates all expired or were
// revoked (while it was stopped or unreachable, say) gets a fresh one-time token injected through its
// provider → waits until its agent exchanged it for a new certificate and reported CONNECTED, injecting a
// new token each time the previous one expired → SUCCEEDED; after `limitMs` FAILED. Started by the
// reconciler's round (`recovery:<runtimeId>:<n>`); the token never enters this history.
import { condition, defineQuery, defineSignal, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { RecoveryActivities, RecoveryRef } from '../activities/recovery.js';
import { failureMessage } from './failures.js';
import { MeridianStage } from './ids.js';

export const RecoveryStage = {
  /** A fresh one-time token is issued and injected through the runtime's provider. */
  INJECTING: 'INJECTING',
  /** Until the agent reports CONNECTED with a certificate issued after the recovery began. */
  WAITING_FOR_AGENT: 'WAITING_FOR_AGENT',
  RECOVERED: 'RECOVERED',
  /** Only the MeridianStage of a recovery that failed; the operation keeps the stage that failed. */
  FAILED: 'FAILED',
} as const;
export type RecoveryStage = (typeof RecoveryStage)[keyof typeof RecoveryStage];

/** How long a recovery waits for the runtime in all, injecting a new token whenever one expired: a day. */
export const RECOVERY_LIMIT_MS = 24 * 60 * 60_000;
/** How often a waiting recovery looks at the runtime (the API's `runtimeReconnected` signal wakes it sooner). */
export const RECOVERY_CHECK_MS = 60_000;

export interface RecoveryInput extends RecoveryRef {
  /** @default {@link RECOVERY_LIMIT_MS} */
  limitMs?: number;
  /** @default {@link RECOVERY_CHECK_MS} */
  checkMs?: number;
}

export interface RecoveryStatus {
  stage: RecoveryStage;
  /** Tokens injected so far (one more each time the previous one expired unused). */
  injections: number;
  failed?: string;
}

/** What a runtime shows while it is recovered: what happened, and which operation brings it back. */
export const recoveryMessage = (reason: string, operationId: string) => `${reason}; recovering (operation ${operationId})`;

/** The runtime's agent reported CONNECTED (sent by the API on `PUT /v1/runtime/status`): look now. */
export const runtimeReconnected = defineSignal('runtimeReconnected');
export const recoveryStatus = defineQuery<RecoveryStatus>('status');

const acts = proxyActivities<RecoveryActivities>({ startToCloseTimeout: '1 minute', retry: { maximumInterval: '1 minute' } });

/** `ms` for people: minutes up to two hours, hours beyond. */
const duration = (ms: number) => (ms < 2 * 3600_000 ? `${Math.round(ms / 60_000)} minutes` : `${Math.round(ms / 3600_000)} hours`);

export async function runtimeRecovery(input: RecoveryInput): Promise<RecoveryStatus> {
  const status: RecoveryStatus = { stage: RecoveryStage.INJECTING, injections: 0 };
  const limitMs = input.limitMs ?? RECOVERY_LIMIT_MS;
  const checkMs = input.checkMs ?? RECOVERY_CHECK_MS;
  const deadline = Date.now() + limitMs;
  let woken = false;
  setHandler(recoveryStatus, () => status);
  setHandler(runtimeReconnected, () => {
    woken = true;
  });
  const ref: RecoveryRef = { tenantId: input.tenantId, runtimeId: input.runtimeId, provider: input.provider, operationId: input.operationId, reason: input.reason };
  const enter = (stage: RecoveryStage) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: MeridianStage, value: stage }]);
  };
  const finish = async (failed?: string) => {
    status.failed = failed;
    await acts.finishRecovery({ ...ref, stage: failed === undefined ? RecoveryStage.RECOVERED : status.stage, failed });
    if (failed === undefined) enter(RecoveryStage.RECOVERED);
    else upsertSearchAttributes([{ key: MeridianStage, value: RecoveryStage.FAILED }]);
    return status;
  };

  try {
    while (Date.now() < deadline) {
      enter(RecoveryStage.INJECTING);
      // A provider that keeps failing is retried until the recovery's deadline, not beyond it.
      const { injectRecoveryToken } = proxyActivities<RecoveryActivities>({
        startToCloseTimeout: '1 minute',
        scheduleToCloseTimeout: Math.max(60_000, deadline - Date.now()),
        retry: { maximumInterval: '1 minute' },
      });
      const injected = await injectRecoveryToken({ ...ref, injection: status.injections + 1 });
      if ('gone' in injected) return await finish(`nothing to recover: ${injected.gone}`);
      status.injections++;
      enter(RecoveryStage.WAITING_FOR_AGENT);
      // The token lives ttlSeconds; a new one is injected once it expired unused.
      const tokenExpires = Math.min(Date.now() + injected.ttlSeconds * 1000, deadline);
      while (Date.now() < tokenExpires) {
        await condition(() => woken, Math.min(checkMs, tokenExpires - Date.now()));
        woken = false;
        const progress = await acts.recoveryProgress(ref);
        if (progress.state === 'RECOVERED') return await finish();
        if (progress.state === 'GONE') return await finish(`nothing to recover: ${progress.reason}`);
      }
    }
    return await finish(`the runtime did not connect again within ${duration(limitMs)} (${status.injections} one-time tokens injected through its provider)`);
  } catch (error) {
    return finish(failureMessage(error));
  }
}
