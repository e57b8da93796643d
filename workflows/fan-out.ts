// Runtime events for applications (docs/architecture.md, flow 4): `runtime.connected` and
// `runtime.removed` reach every application that shares a scenario with the runtime, each through its
// own notifyApplication workflow. Provisioning and deprovisioning run this flow as a child; liveness
// transitions (`runtime.unreachable`, `runtime.reachable`) start it on its own (services/liveness.ts).
import { ParentClosePolicy, executeChild, patched, proxyActivities, startChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks.js';
import { MeridianStage, notificationAttributes, runtimeAttributes, workflowId } from './ids.js';
import { notifyApplication, type NotificationEvent } from './notify.js';

export const FanOutStage = { NOTIFYING: 'NOTIFYING', FINISHED: 'FINISHED' } as const;
export type FanOutStage = (typeof FanOutStage)[keyof typeof FanOutStage];

export interface RuntimeEventInput {
  tenantId: string;
  runtimeId: string;
  /**
   * Stable id of the event (`<type>:<runtimeId>`, for liveness `<type>:<runtimeId>:<transition>`): each
   * application is notified of it once.
   */
  eventId: string;
  event: NotificationEvent;
  /** Whom to notify; when not given, the applications sharing a scenario with the runtime now. */
  applicationIds?: string[];
}

/** What a runtime event says about the runtime. */
export interface RuntimeEventFacts {
  tenantId: string;
  runtimeId: string;
  name: string;
  eventUrl: string | null;
  configVersion: number;
}

const { applicationsSharingRuntime } = proxyActivities<WebhookActivities>({ startToCloseTimeout: '30 seconds' });

/** The fan-out's input for `runtime.connected` or `runtime.removed` of `runtime` (event id `<type>:<runtimeId>`). */
export function runtimeEvent(type: 'runtime.connected' | 'runtime.removed', runtime: RuntimeEventFacts, applicationIds?: string[]): RuntimeEventInput {
  return {
    tenantId: runtime.tenantId,
    runtimeId: runtime.runtimeId,
    eventId: `${type}:${runtime.runtimeId}`,
    event: { type, runtime: { id: runtime.runtimeId, name: runtime.name, eventUrl: runtime.eventUrl }, configVersion: runtime.configVersion, occurredAt: new Date().toISOString() },
    ...(applicationIds && { applicationIds }),
  };
}

/** A liveness event: the runtime's transition number `transition` made it UNREACHABLE, or CONNECTED again. */
export function livenessEvent(type: 'runtime.unreachable' | 'runtime.reachable', runtime: RuntimeEventFacts, transition: number, occurredAt: Date): RuntimeEventInput {
  return {
    tenantId: runtime.tenantId,
    runtimeId: runtime.runtimeId,
    eventId: `${type}:${runtime.runtimeId}:${transition}`,
    event: { type, runtime: { id: runtime.runtimeId, name: runtime.name, eventUrl: runtime.eventUrl }, configVersion: runtime.configVersion, occurredAt: occurredAt.toISOString() },
  };
}

/**
 * Starts one notifyApplication workflow per application of `applicationIds`; each outlives its parent
 * and delivers the event once, however often it is fanned out.
 */
export async function notifyApplications(input: RuntimeEventInput, applicationIds: string[]): Promise<void> {
  for (const applicationId of applicationIds) {
    await startChild(notifyApplication, {
      workflowId: workflowId.notify(applicationId, input.eventId),
      taskQueue: workflowInfo().taskQueue,
      args: [{ tenantId: input.tenantId, applicationId, eventId: input.eventId, event: input.event }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `Deliver ${input.event.type} (runtime ${input.runtimeId}) to the webhooks of application ${applicationId}`,
      typedSearchAttributes: notificationAttributes(input.tenantId, applicationId, input.runtimeId),
    }).catch((error: Error) => {
      // Already started for this event: that workflow delivers it, once.
      if (error.name !== 'WorkflowExecutionAlreadyStartedError') throw error;
    });
  }
}

/** The audience given, or the applications sharing a scenario with the runtime now. */
const audienceOf = async (input: RuntimeEventInput) => input.applicationIds ?? (await applicationsSharingRuntime({ runtimeId: input.runtimeId }));

/** The fan-out of one runtime event: notifies its audience and returns the applications notified. */
export async function runtimeEventFanOut(input: RuntimeEventInput): Promise<string[]> {
  const applicationIds = await audienceOf(input);
  await notifyApplications(input, applicationIds);
  upsertSearchAttributes([{ key: MeridianStage, value: FanOutStage.FINISHED }]);
  return applicationIds;
}

/**
 * How provisioning and deprovisioning announce a runtime event: the fan-out runs as their child.
 * Histories written before the fan-out existed (`patched` is false when they replay) notified inline,
 * and still do.
 */
export async function fanOutAsChild(input: RuntimeEventInput, summary: string): Promise<void> {
  if (!patched('runtime-event-fan-out')) return notifyApplications(input, await audienceOf(input));
  await executeChild(runtimeEventFanOut, {
    workflowId: workflowId.fanOut(input.eventId),
    args: [input],
    staticSummary: summary,
    typedSearchAttributes: runtimeAttributes(input.tenantId, input.runtimeId, FanOutStage.NOTIFYING),
  });
}
