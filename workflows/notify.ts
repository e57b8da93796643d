// Application Webhook API (docs/architecture.md, flow 4): one event to every CONFIGURATION_CHANGED
// webhook of one application, with a stable delivery id, retried with exponential backoff for 24 hours.
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { NotificationBody, WebhookActivities } from '../activities/webhooks.js';
import { DeliveryStage, MeridianStage } from './ids.js';

export { DeliveryStage } from './ids.js';

export type NotificationEvent = Omit<NotificationBody, 'id' | 'applicationId'>;

export interface NotifyInput {
  tenantId: string;
  applicationId: string;
  /** Stable id of the event; the workflow id `notify:<applicationId>:<eventId>` makes it deliver once. */
  eventId: string;
  event: NotificationEvent;
}

export type DeliveryOutcome = { deliveryId: string; state: typeof DeliveryStage.DELIVERED | typeof DeliveryStage.FAILED };

const { planDeliveries, markDeliveryFailed } = proxyActivities<WebhookActivities>({ startToCloseTimeout: '30 seconds' });
const { deliver } = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: ['WebhookGone', 'WebhookRefused'] },
});

/** Delivers one event to every webhook of one application; a delivery that gives up is recorded FAILED. */
export async function notifyApplication(input: NotifyInput): Promise<DeliveryOutcome[]> {
  const deliveries = await planDeliveries({ applicationId: input.applicationId, eventId: input.eventId, eventType: input.event.type });
  const outcomes = await Promise.all(
    deliveries.map(async ({ deliveryId, webhookId }): Promise<DeliveryOutcome> => {
      const body: NotificationBody = { id: deliveryId, applicationId: input.applicationId, ...input.event };
      try {
        await deliver({ deliveryId, webhookId, body });
        return { deliveryId, state: DeliveryStage.DELIVERED };
      } catch {
        await markDeliveryFailed({ deliveryId, reason: 'gave up after 24 hours of retries' });
        return { deliveryId, state: DeliveryStage.FAILED };
      }
    }),
  );
  const delivered = outcomes.every((o) => o.state === DeliveryStage.DELIVERED);
  upsertSearchAttributes([{ key: MeridianStage, value: delivered ? DeliveryStage.DELIVERED : DeliveryStage.FAILED }]);
  return outcomes;
}
