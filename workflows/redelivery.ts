// Delivery replay (docs/architecture.md, flow 4): deliveries of the Application Webhook API sent again,
// long after their notification ended, with the same delivery id (receivers deduplicate by it), the
// stored event, the webhook's current secret and the retries of a first delivery (workflows/notify.ts).
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities/webhooks.js';
import type { DeliveryState } from '../db/deliveries.js';
import { deliverInTwoPasses, finish, notificationBody, type DeliveryOutcome } from './notify.js';

export interface RedeliveryInput {
  tenantId: string;
  applicationId: string;
  /** What to send again, oldest first. The API marked them PENDING for this workflow when it started it. */
  deliveryIds: string[];
  /** The states a delivery may be redelivered from: FAILED for "every FAILED delivery since", also DELIVERED for one. */
  states: DeliveryState[];
}

/**
 * The 24-hour retries of a redelivery in flight at once: a batch holds up to 1000 deliveries, so more
 * than a notification's 5, but bounded, so that a receiver that is still down is not sent them all at once.
 */
export const REDELIVERY_RETRY_CONCURRENCY = 50;

const { takeRedeliveries } = proxyActivities<WebhookActivities>({ startToCloseTimeout: '30 seconds' });

/** Sends deliveries again: take them (PENDING, this workflow's), deliver as a notification does, DELIVERED or FAILED. */
export async function redeliver(input: RedeliveryInput): Promise<DeliveryOutcome[]> {
  const taken = await takeRedeliveries({ workflowId: workflowInfo().workflowId, deliveryIds: input.deliveryIds, states: input.states });
  const deliveries = taken.map(({ deliveryId, webhookId, event }) => ({ deliveryId, webhookId, body: notificationBody(deliveryId, input.applicationId, event) }));
  return finish(await deliverInTwoPasses(deliveries, REDELIVERY_RETRY_CONCURRENCY));
}
