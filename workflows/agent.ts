// The runtime agent (docs/architecture.md, flow 6): connect with the injected token → report CONNECTED → loop
// { wait for a new configuration (ETag) → apply it → renew the certificate at 70 % of its life } →
// continue-as-new. Runs on the runtime's own task queue; no secret ever enters its history. A certificate
// Meridian refuses (expired or revoked while the runtime was stopped) is recovered: the agent takes the
// fresh token Meridian's recovery injects through the provider, connects again and reports CONNECTED.
//
// Two designs (AgentState.design, MERIDIAN_AGENT_DESIGN for new runtimes):
// - `watch`: one long-running activity long-polls the API (`Prefer: wait`) and returns only when the
//   configuration changed, the renewal is due, a fetch failed or an hour passed. A steady runtime costs
//   Temporal about one workflow task an hour and a heartbeat every few minutes.
// - `poll`: a local activity per poll and a durable timer between polls (one workflow task per poll),
//   with `configChanged` signals as hints. Agents started before `watch` existed keep it.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  patched,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { AgentActivities, CertificateLife, SyncResult } from '../runtime/activities.js';
import { failureMessage, innermostFailure } from './failures.js';

/** The agent's MeridianStage: it runs for as long as its runtime exists. */
export const AgentStage = {
  RUNNING: 'RUNNING',
} as const;
export type AgentStage = (typeof AgentStage)[keyof typeof AgentStage];

/** How an agent waits for configuration changes; see the file comment. */
export const AgentDesign = {
  WATCH: 'watch',
  POLL: 'poll',
} as const;
export type AgentDesign = (typeof AgentDesign)[keyof typeof AgentDesign];

export interface AgentState {
  runtimeId: string;
  /** @default poll (agents started before the watch design existed) */
  design?: AgentDesign;
  pollIntervalMs: number;
  connected: boolean;
  eventUrl?: string;
  etag?: string;
  lastAppliedVersion?: number;
  lastDigest?: string;
  lastFetchAt?: string;
  certificate?: CertificateLife;
  consecutiveErrors: number;
  lastError?: string;
  /** The configuration named a new CA that did not sign the certificate (a CA rotation): renew before the next fetch. */
  renewNow?: boolean;
  applies: number;
  renewals: number;
  /** Why the agent is recovering now: its certificate was refused, and it waits for a fresh token (see recoverCredentials). */
  recovering?: string;
  /** Times the agent connected again with a fresh token after its certificate was refused. */
  recoveries?: number;
  /** A configChanged hint that arrived while the previous run was closing. */
  hinted?: boolean;
  /** Bound on polls (watches) per run, next to Temporal's own continue-as-new suggestion. @default 1000 (100) */
  pollsPerRun?: number;
  runs?: number;
}

/** A hint that the configuration changed: fetch now instead of at the next poll. */
export const configChanged = defineSignal('configChanged');
export const agentStatus = defineQuery<AgentState>('status');

const acts = proxyActivities<AgentActivities>({
  // Connecting waits on Meridian twice (signing request, certificate); give a loaded plane time.
  startToCloseTimeout: '3 minutes',
  // Meridian unreachable (restarting, overloaded) is asked again for as long as it takes, at most a minute
  // apart: giving up after a few attempts left an agent failed for good by a restart of the plane. A
  // refused token or certificate is final here (a refused certificate is recovered, recoverFromRefusal);
  // provisioning bounds how long a connect may take in all.
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['NotInjected', 'TokenRejected', 'CertificateRefused'] },
});
/**
 * A poll is one HTTP call: a local activity, run by the worker inside the workflow task, so a poll costs
 * the server one timer and one workflow task instead of an activity task and two workflow tasks.
 * Polls are retried by the loop itself, with backoff that stays visible in `status`.
 */
const { syncConfiguration } = proxyLocalActivities<AgentActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 1 } });
/**
 * Reconnecting after a refused certificate waits for a fresh token: the activity fails until one is
 * injected (or while the one injected is refused), and is retried 5 s, 10 s, … at most 2 minutes apart, as
 * long as it takes. Retries add nothing to the history, however long the runtime waits.
 */
const { reconnectRuntime } = proxyActivities<AgentActivities>({ startToCloseTimeout: '3 minutes', retry: { initialInterval: '5 seconds', maximumInterval: '2 minutes' } });

/** How long one watch runs at most before it returns to the workflow (which then starts the next). */
export const WATCH_RUN_MS = 60 * 60_000;
/**
 * A watch heartbeats after every answer; the worker sends at most one heartbeat per 80 % of this (see
 * `maxHeartbeatThrottleInterval` of the agent workers), so a watch costs Temporal a heartbeat every 4
 * minutes, and one on a runtime host that died is retried elsewhere after at most 5 minutes.
 */
export const WATCH_HEARTBEAT_TIMEOUT = '5 minutes';
const { watchConfiguration } = proxyActivities<AgentActivities>({
  startToCloseTimeout: WATCH_RUN_MS + 10 * 60_000,
  heartbeatTimeout: WATCH_HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['CertificateRefused'] },
});

const MAX_BACKOFF_MS = 10 * 60_000;
/** Renew once this share of the certificate's lifetime has passed. */
export const RENEW_AT = 0.7;

/** When the certificate is due for renewal (epoch ms); undefined before the first one. */
const renewalAt = (cert: CertificateLife | undefined) => {
  if (!cert) return undefined;
  const from = Date.parse(cert.notBefore);
  return from + RENEW_AT * (Date.parse(cert.notAfter) - from);
};
const renewalDue = (cert: CertificateLife | undefined) => Date.now() >= (renewalAt(cert) ?? Infinity);

/**
 * A CA rotation asks every agent at once; each waits first, at random, up to four poll intervals (at most
 * two minutes), so that a fleet's renewals (each one an issuance workflow the API waits for) are spread out.
 */
const renewalSpreadMs = (state: AgentState) => Math.min(4 * state.pollIntervalMs, 120_000);

/** Renews the certificate when 70 % of its life has passed, or when a CA rotation asked for it; a refused one is recovered. */
async function renewIfDue(state: AgentState): Promise<void> {
  const due = renewalDue(state.certificate);
  if (!due && !state.renewNow) return;
  if (!due) await sleep(Math.random() * renewalSpreadMs(state));
  try {
    state.certificate = await acts.renewCertificate({ runtimeId: state.runtimeId });
  } catch (error) {
    // Expired or revoked (the runtime was stopped past its certificate's end, say): no renewal can help.
    if (!certificateRefused(error) || !patched(RECOVERY_PATCH)) throw error;
    await recoverFromRefusal(state, failureMessage(error));
    return;
  }
  state.renewals++;
  state.renewNow = undefined;
}

/** Marks the runs whose agent recovers from a refused certificate (recoverCredentials); runs recorded before it back off as they did. */
export const RECOVERY_PATCH = 'agent-recovery';

/** Whether an activity failed because Meridian refused the runtime's certificate (401: expired or revoked). */
const certificateRefused = (error: unknown) => {
  const failure = innermostFailure(error);
  return failure instanceof ApplicationFailure && failure.type === 'CertificateRefused';
};

/**
 * Meridian refused the certificate (it expired, or was revoked, while the runtime was stopped or
 * unreachable): the agent waits for the fresh one-time token that Meridian's recovery workflow
 * (`recovery:<runtimeId>:<n>`) injects through the runtime's provider, exchanges it for a new key and
 * certificate (replacing the refused ones) and reports CONNECTED again; then it goes on where it was.
 */
async function recoverCredentials(state: AgentState, reason: string): Promise<void> {
  state.recovering = reason;
  state.certificate = await reconnectRuntime({ runtimeId: state.runtimeId });
  state.eventUrl = (await acts.reportConnected({ runtimeId: state.runtimeId })).eventUrl;
  state.recoveries = (state.recoveries ?? 0) + 1;
  state.recovering = undefined;
  state.renewNow = undefined;
}

/**
 * A refusal counts as a failed fetch: the first recovers at once; one that follows a recovery with no
 * good fetch between waits out the backoff first, so a certificate refused again never loops.
 */
async function recoverFromRefusal(state: AgentState, reason: string): Promise<void> {
  state.consecutiveErrors++;
  state.lastError = reason;
  if (state.consecutiveErrors > 1) await sleep(backoffMs(state));
  await recoverCredentials(state, reason);
}
/** Marks the runs whose backoffs are spread at random (see backoffMs); runs recorded before it replay the fixed backoff. */
export const BACKOFF_JITTER_PATCH = 'agent-backoff-jitter';
/**
 * How long the agent waits after `consecutiveErrors` failed fetches: the poll interval, doubled per failure
 * up to 10 minutes, drawn from half to one and a half times that (still at most 10 minutes), so that the
 * agents a restart of Meridian failed together do not all come back in the same instant. `Math.random` is
 * the workflow's seeded one: a replay draws the same delays.
 */
const backoffMs = (state: AgentState) => {
  const doubled = Math.min(state.pollIntervalMs * 2 ** state.consecutiveErrors, MAX_BACKOFF_MS);
  if (!patched(BACKOFF_JITTER_PATCH)) return doubled;
  return Math.min(Math.round(doubled * (0.5 + Math.random())), MAX_BACKOFF_MS);
};

/** Records a fetched configuration; a version applied before (a watch re-run after a crash) counts once. */
function recordFetch(state: AgentState, result: SyncResult): void {
  state.lastFetchAt = result.fetchedAt ?? new Date().toISOString();
  state.consecutiveErrors = 0;
  state.lastError = undefined;
  if (result.renew) state.renewNow = true;
  if (!result.changed) return;
  state.etag = result.etag;
  if (result.configVersion !== undefined && result.configVersion === state.lastAppliedVersion && result.digest === state.lastDigest) return;
  state.lastAppliedVersion = result.configVersion;
  state.lastDigest = result.digest;
  state.applies++;
}

export async function runtimeAgent(initial: AgentState): Promise<never> {
  const state: AgentState = { ...initial, runs: (initial.runs ?? 0) + 1 };
  let hinted = initial.hinted ?? false;
  setHandler(configChanged, () => {
    hinted = true;
  });
  setHandler(agentStatus, () => state);

  if (!state.connected) {
    state.certificate = await acts.connectRuntime({ runtimeId: state.runtimeId });
    state.eventUrl = (await acts.reportConnected({ runtimeId: state.runtimeId })).eventUrl;
    state.connected = true;
  }

  if (state.design === AgentDesign.WATCH) {
    await watchLoop(state);
  } else {
    hinted = await pollLoop(state, () => hinted, () => (hinted = false));
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof runtimeAgent>({ ...state, hinted });
}

/** `watch`: one activity at a time waits for the next configuration (see the file comment). */
async function watchLoop(state: AgentState): Promise<void> {
  for (let watches = 0; watches < (state.pollsPerRun ?? 100) && !workflowInfo().continueAsNewSuggested; watches++) {
    await renewIfDue(state);
    const began = Date.now();
    // A refused certificate ends a watch with a failure: the agent recovers (runs recorded before that
    // back off like after a failed fetch, as the poll loop did, rather than failing the agent).
    const result: SyncResult & { refused?: boolean } = await watchConfiguration({
      runtimeId: state.runtimeId,
      etag: state.etag,
      pollIntervalMs: state.pollIntervalMs,
      renewAt: renewalAt(state.certificate),
      runMs: WATCH_RUN_MS,
    }).catch((error: unknown) => ({ changed: false, error: failureMessage(error), refused: certificateRefused(error) }));
    if (result.error === undefined) {
      recordFetch(state, result);
      // A watch that ended early with nothing new (cancelled, or an API that answers at once) is not
      // followed at once by the next: never more than one fetch per poll interval from this loop.
      const early = state.pollIntervalMs - (Date.now() - began);
      if (!result.changed && early > 0 && !renewalDue(state.certificate)) await sleep(early);
      continue;
    }
    if (result.refused && patched(RECOVERY_PATCH)) {
      await recoverFromRefusal(state, result.error);
      continue;
    }
    state.consecutiveErrors++;
    state.lastError = result.error;
    await sleep(backoffMs(state));
  }
}

/** `poll`: a fetch per poll interval, sooner on a hint. Returns whether a hint is still pending. */
async function pollLoop(state: AgentState, hinted: () => boolean, clearHint: () => void): Promise<boolean> {
  for (let polls = 0; polls < (state.pollsPerRun ?? 1000) && !workflowInfo().continueAsNewSuggested; polls++) {
    await renewIfDue(state);
    clearHint();
    try {
      recordFetch(state, await syncConfiguration({ runtimeId: state.runtimeId, etag: state.etag }));
    } catch (error) {
      if (certificateRefused(error) && patched(RECOVERY_PATCH)) {
        await recoverFromRefusal(state, failureMessage(error));
        continue;
      }
      state.consecutiveErrors++;
      state.lastError = failureMessage(error);
    }
    await condition(() => hinted() || state.renewNow === true, state.consecutiveErrors ? backoffMs(state) : state.pollIntervalMs);
  }
  return hinted();
}
