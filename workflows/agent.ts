// The runtime agent (docs/architecture.md, flow 6): connect with the injected token → report CONNECTED → loop
// { fetch configuration (ETag) → apply if changed → renew the certificate at 70 % of its life } →
// continue-as-new. Runs on the runtime's own task queue; no secret ever enters its history.
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { AgentActivities, CertificateLife } from '../runtime/activities.js';
import { failureMessage } from './failures.js';

/** The agent's MeridianStage: it runs for as long as its runtime exists. */
export const AgentStage = {
  RUNNING: 'RUNNING',
} as const;
export type AgentStage = (typeof AgentStage)[keyof typeof AgentStage];

export interface AgentState {
  runtimeId: string;
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
  applies: number;
  renewals: number;
  /** A configChanged hint that arrived while the previous run was closing. */
  hinted?: boolean;
  /** Bound on polls per run, next to Temporal's own continue-as-new suggestion. @default 1000 */
  pollsPerRun?: number;
  runs?: number;
}

/** A hint that the configuration changed: fetch now instead of at the next poll. */
export const configChanged = defineSignal('configChanged');
export const agentStatus = defineQuery<AgentState>('status');

const acts = proxyActivities<AgentActivities>({
  // Connecting waits on Meridian twice (signing request, certificate); give a loaded plane time.
  startToCloseTimeout: '3 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: ['NotInjected', 'TokenRejected', 'CertificateRefused'] },
});
/**
 * A poll is one HTTP call: a local activity, run by the worker inside the workflow task, so a poll costs
 * the server one timer and one workflow task instead of an activity task and two workflow tasks.
 * Polls are retried by the loop itself, with backoff that stays visible in `status`.
 */
const { syncConfiguration } = proxyLocalActivities<AgentActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 1 } });

const MAX_BACKOFF_MS = 10 * 60_000;
/** Renew once this share of the certificate's lifetime has passed. */
export const RENEW_AT = 0.7;

const renewalDue = (cert: CertificateLife | undefined) => {
  if (!cert) return false;
  const from = Date.parse(cert.notBefore);
  return Date.now() >= from + RENEW_AT * (Date.parse(cert.notAfter) - from);
};

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

  for (let polls = 0; polls < (state.pollsPerRun ?? 1000) && !workflowInfo().continueAsNewSuggested; polls++) {
    if (renewalDue(state.certificate)) {
      state.certificate = await acts.renewCertificate({ runtimeId: state.runtimeId });
      state.renewals++;
    }
    hinted = false;
    try {
      const result = await syncConfiguration({ runtimeId: state.runtimeId, etag: state.etag });
      state.lastFetchAt = new Date().toISOString();
      state.consecutiveErrors = 0;
      state.lastError = undefined;
      if (result.changed) {
        state.etag = result.etag;
        state.lastAppliedVersion = result.configVersion;
        state.lastDigest = result.digest;
        state.applies++;
      }
    } catch (error) {
      state.consecutiveErrors++;
      state.lastError = failureMessage(error);
    }
    const wait = state.consecutiveErrors ? Math.min(state.pollIntervalMs * 2 ** state.consecutiveErrors, MAX_BACKOFF_MS) : state.pollIntervalMs;
    await condition(() => hinted, wait);
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof runtimeAgent>({ ...state, hinted });
}
