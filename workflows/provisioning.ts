// Runtime provisioning (docs/architecture.md, flow 3): register → runtime token → provider.provision → inject →
// start the agent → wait until it reports CONNECTED → notify applications. Any failure after
// registration is compensated: deprovisioned, token and certificates unusable, runtime FAILED.
import {
  ApplicationFailure,
  ParentClosePolicy,
  condition,
  defineQuery,
  defineSignal,
  patched,
  type LocalActivityOptions,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { ProvisioningActivities, RuntimeInput } from '../activities/provisioning.js';
import { AgentDesign, AgentStage, runtimeAgent } from './agent.js';
import { fanOutAsChild, runtimeEvent } from './fan-out.js';
import { failureMessage } from './failures.js';
import { MeridianStage, runtimeAttributes, workflowId } from './ids.js';

export const ProvisioningStage = {
  REGISTERING: 'REGISTERING',
  ISSUING_TOKEN: 'ISSUING_TOKEN',
  PROVISIONING: 'PROVISIONING',
  INJECTING: 'INJECTING',
  WAITING_FOR_AGENT: 'WAITING_FOR_AGENT',
  NOTIFYING: 'NOTIFYING',
  FINISHED: 'FINISHED',
  /** Only the MeridianStage of a failed provisioning; its status keeps the stage that failed. */
  FAILED: 'FAILED',
} as const;
export type ProvisioningStage = (typeof ProvisioningStage)[keyof typeof ProvisioningStage];

export interface ProvisioningInput extends RuntimeInput {
  operationId: string;
  /** @default 10 minutes */
  provisionTimeoutMs: number;
  /** @default 15 minutes */
  agentTimeoutMs: number;
  /** How the agent keeps the configuration current; absent in provisionings started before it existed. @default watch */
  agentDesign?: AgentDesign;
}

export interface ProvisioningStatus {
  stage: ProvisioningStage;
  failed?: string;
  eventUrl?: string;
}

/** The agent reported CONNECTED for the first time (sent by the API on `PUT /v1/runtime/status`). */
export const agentConnected = defineSignal<[{ eventUrl: string }]>('agentConnected');
export const provisioningStatus = defineQuery<ProvisioningStatus>('status');

const QUICK = { startToCloseTimeout: '30 seconds', retry: { maximumInterval: '30 seconds', nonRetryableErrorTypes: ['NotFound'] } } satisfies LocalActivityOptions;

/**
 * The quick steps (stage records, the token, the injection, the runtime's facts, the operation's end)
 * as local activities: run by the worker inside the workflow task, so a provisioning costs Temporal a
 * handful of workflow tasks instead of an activity task and a workflow task per step. A local activity
 * runs again when its workflow task times out, so each is safe to repeat late: conditions only move
 * forward (activities/provisioning.ts), a finished operation is not written again, and a token issued
 * twice leaves the one not injected unused until it expires or the runtime is removed. The provider's
 * `provisionRuntime` (minutes, heartbeats) and the compensation (retried for minutes) stay activity
 * tasks. Provisionings started before (`patched` is false when they replay) keep their activity tasks.
 */
const activityTasks = proxyActivities<ProvisioningActivities>(QUICK);
const quickSteps = () => (patched('provisioning-local-activities') ? proxyLocalActivities<ProvisioningActivities>(QUICK) : activityTasks);

export async function provisioning(input: ProvisioningInput): Promise<ProvisioningStatus> {
  const quick = quickSteps();
  const status: ProvisioningStatus = { stage: ProvisioningStage.REGISTERING };
  setHandler(provisioningStatus, () => status);
  setHandler(agentConnected, ({ eventUrl }) => {
    status.eventUrl = eventUrl;
  });
  const enter = async (stage: ProvisioningStage, runtimeCondition?: string) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: MeridianStage, value: stage }]);
    if (runtimeCondition) await quick.markRuntime({ runtimeId: input.runtimeId, condition: runtimeCondition, operationId: input.operationId, stage });
  };
  const { provisionRuntime } = proxyActivities<ProvisioningActivities>({
    startToCloseTimeout: input.provisionTimeoutMs,
    heartbeatTimeout: '30 seconds',
    retry: { maximumAttempts: 3 },
  });

  await enter(ProvisioningStage.REGISTERING, 'PROVISIONING');
  try {
    await enter(ProvisioningStage.ISSUING_TOKEN, 'PROVISIONING');
    const token = await quick.issueRuntimeToken(input);

    await enter(ProvisioningStage.PROVISIONING, 'PROVISIONING');
    const { taskQueue } = await provisionRuntime(input);

    await enter(ProvisioningStage.INJECTING, 'PROVISIONING');
    await quick.injectRuntime({ ...input, token });
    const facts = await quick.runtimeFacts({ runtimeId: input.runtimeId });
    await startChild(runtimeAgent, {
      workflowId: workflowId.agent(input.runtimeId),
      taskQueue,
      args: [
        {
          runtimeId: input.runtimeId,
          design: input.agentDesign ?? AgentDesign.WATCH,
          pollIntervalMs: facts.pollIntervalSeconds * 1000,
          connected: false,
          consecutiveErrors: 0,
          applies: 0,
          renewals: 0,
        },
      ],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `Runtime agent: connect, report CONNECTED, keep the configuration current (every ${facts.pollIntervalSeconds} s)`,
      typedSearchAttributes: runtimeAttributes(input.tenantId, input.runtimeId, AgentStage.RUNNING),
    });

    await enter(ProvisioningStage.WAITING_FOR_AGENT);
    if (!(await condition(() => status.eventUrl !== undefined, input.agentTimeoutMs))) {
      throw ApplicationFailure.nonRetryable(`the runtime agent did not connect within ${input.agentTimeoutMs / 60_000} minutes`, 'AgentTimeout');
    }

    await enter(ProvisioningStage.NOTIFYING);
    const connected = await quick.runtimeFacts({ runtimeId: input.runtimeId });
    await fanOutAsChild(runtimeEvent('runtime.connected', { ...input, ...connected }), `Tell the applications sharing runtime ${input.runtimeId} that it connected`);
    await enter(ProvisioningStage.FINISHED);
    await quick.finishOperation({ operationId: input.operationId, stage: ProvisioningStage.FINISHED });
    return status;
  } catch (error) {
    const reason = failureMessage(error);
    status.failed = reason;
    // An activity task in every version: it retries the provider for minutes, bounded from its first attempt.
    await activityTasks.compensateProvisioning({ ...input, stage: status.stage, reason });
    upsertSearchAttributes([{ key: MeridianStage, value: ProvisioningStage.FAILED }]);
    return status;
  }
}
