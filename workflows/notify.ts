// Application Webhook API (DESIGN.md, flow 4): one event to every CONFIGURATION_CHANGED webhook of an
// application, with a stable delivery id, retried with exponential backoff for 24 hours.
import { ParentClosePolicy, proxyActivities, startChild, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { NotificationBody, WebhookActivities } from '../activities/webhooks.js';
import { MeridianStage, notificationAttributes } from './ids.js';

export type NotificationEvent = Omit<NotificationBody, 'id' | 'applicationId'>;

export interface NotifyInput {
  tenantId: string;
  applicationId: string;
  /** Stable id of the event; the workflow id `notify:<applicationId>:<eventId>` makes it deliver once. */
  eventId: string;
  event: NotificationEvent;
}

export type DeliveryOutcome = { deliveryId: string; state: 'DELIVERED' | 'FAILED' };

export const { planDeliveries, markDeliveryFailed, applicationsSharingRuntime } = proxyActivities<WebhookActivities>({ startToCloseTimeout: '30 seconds' });
const { deliver } = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: ['WebhookGone', 'WebhookRefused'] },
});

export async function notifyApplication(input: NotifyInput): Promise<DeliveryOutcome[]> {
  const deliveries = await planDeliveries({ applicationId: input.applicationId, eventId: input.eventId, eventType: input.event.type });
  const outcomes = await Promise.all(
    deliveries.map(async ({ deliveryId, webhookId }): Promise<DeliveryOutcome> => {
      const body: NotificationBody = { id: deliveryId, applicationId: input.applicationId, ...input.event };
      try {
        await deliver({ deliveryId, webhookId, body });
        return { deliveryId, state: 'DELIVERED' };
      } catch {
        await markDeliveryFailed({ deliveryId, reason: 'gave up after 24 hours of retries' });
        return { deliveryId, state: 'FAILED' };
      }
    }),
  );
  upsertSearchAttributes([{ key: MeridianStage, value: outcomes.every((o) => o.state === 'DELIVERED') ? 'DELIVERED' : 'FAILED' }]);
  return outcomes;
}

export const notifyWorkflowId = (applicationId: string, eventId: string) => `notify:${applicationId}:${eventId}`;

export interface RuntimeEventInput {
  tenantId: string;
  runtimeId: string;
  eventId: string;
  event: NotificationEvent;
}

/** Starts one notification workflow per application (for callers that computed the audience earlier). */
export async function notifyApplications(input: RuntimeEventInput, applicationIds: string[]): Promise<void> {
  for (const applicationId of applicationIds) {
    await startChild(notifyApplication, {
      workflowId: notifyWorkflowId(applicationId, input.eventId),
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

/** Announces `runtime.connected` or `runtime.removed` (event id `<type>:<runtimeId>`) to `applicationIds`. */
export async function announceRuntime(
  type: 'runtime.connected' | 'runtime.removed',
  runtime: { tenantId: string; runtimeId: string; name: string; eventUrl: string | null; configVersion: number },
  applicationIds: string[],
): Promise<void> {
  await notifyApplications(
    {
      tenantId: runtime.tenantId,
      runtimeId: runtime.runtimeId,
      eventId: `${type}:${runtime.runtimeId}`,
      event: { type, runtime: { id: runtime.runtimeId, name: runtime.name, eventUrl: runtime.eventUrl }, configVersion: runtime.configVersion, occurredAt: new Date().toISOString() },
    },
    applicationIds,
  );
}

/**
 * Fan-out as a workflow: notifies every application that shares a scenario with the runtime, each in
 * its own notification workflow that outlives this one; returns who was notified. (Workflows that
 * already know the audience call {@link notifyApplications} or {@link announceRuntime}.)
 */
export async function runtimeEventFanOut(input: RuntimeEventInput): Promise<string[]> {
  const applicationIds = await applicationsSharingRuntime({ runtimeId: input.runtimeId });
  await notifyApplications(input, applicationIds);
  return applicationIds;
}
