// Application Webhook API (docs/architecture.md, flow 4): one event to every CONFIGURATION_CHANGED
// webhook of one application, with a stable delivery id, retried with exponential backoff for 24 hours.
// At most DELIVERY_CONCURRENCY deliveries run at a time: every webhook first gets a few quick attempts,
// so a dead receiver does not hold up the others; the ones still failing are then retried for 24 hours.
import { ActivityFailure, ApplicationFailure, patched, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { NotificationBody, NotificationEvent, PlannedDelivery, WebhookActivities } from '../activities/webhooks.js';
import { DeliveryStage, MeridianStage } from './ids.js';

export { DeliveryStage } from './ids.js';
export type { NotificationEvent };

export interface NotifyInput {
  tenantId: string;
  applicationId: string;
  /** Stable id of the event; the workflow id `notify:<applicationId>:<eventId>` makes it deliver once. */
  eventId: string;
  event: NotificationEvent;
}

export type DeliveryOutcome = { deliveryId: string; state: typeof DeliveryStage.DELIVERED | typeof DeliveryStage.FAILED };

/** Deliveries of one notification in flight at once. */
export const DELIVERY_CONCURRENCY = 5;

/** Failures no retry can fix: the webhook is gone (410, removed, disabled) or its target is refused. */
const FINAL_FAILURES = ['WebhookGone', 'WebhookRefused'];

const { planDeliveries, markDeliveryFailed } = proxyActivities<WebhookActivities>({ startToCloseTimeout: '30 seconds' });
const { deliver } = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: FINAL_FAILURES },
});
/** The quick attempts every delivery gets before any is retried for long: 3, one second apart then two. */
const { deliver: deliverQuickly } = proxyActivities<WebhookActivities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3, nonRetryableErrorTypes: FINAL_FAILURES },
});

/** `work` for every item, at most `limit` at a time, results in the items' order. Deterministic: lanes take items in order. */
async function inLanes<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

const isFinalFailure = (error: unknown) => error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && FINAL_FAILURES.includes(error.cause.type ?? '');

/** The body of the Application Webhook API for one delivery of an event (docs/api.md); a redelivery sends it again. */
export const notificationBody = (deliveryId: string, applicationId: string, event: NotificationEvent): NotificationBody => ({ id: deliveryId, applicationId, ...event });

/** A planned delivery and the body it sends. */
export type OutgoingDelivery = PlannedDelivery & { body: NotificationBody };

const giveUp = async (deliveryId: string): Promise<DeliveryOutcome> => {
  await markDeliveryFailed({ deliveryId, reason: 'gave up after 24 hours of retries' });
  return { deliveryId, state: DeliveryStage.FAILED };
};

/** The 24 hours of retries with backoff; the delivery is DELIVERED or given up. */
const deliverPersistently = async ({ deliveryId, webhookId, body }: OutgoingDelivery): Promise<DeliveryOutcome> => {
  try {
    await deliver({ deliveryId, webhookId, body });
    return { deliveryId, state: DeliveryStage.DELIVERED };
  } catch {
    return giveUp(deliveryId);
  }
};

/**
 * Delivers each in two passes: first up to 3 quick attempts each, at most {@link DELIVERY_CONCURRENCY} at a
 * time; then the ones still failing with backoff for 24 hours, at most `retryConcurrency` at a time. A
 * delivery that gives up (or whose webhook is gone or refused) is recorded FAILED. Outcomes in the
 * deliveries' order. Notifications and redeliveries (workflows/redelivery.ts) deliver through this.
 */
export async function deliverInTwoPasses(deliveries: OutgoingDelivery[], retryConcurrency = DELIVERY_CONCURRENCY): Promise<DeliveryOutcome[]> {
  const quick = await inLanes(deliveries, DELIVERY_CONCURRENCY, async ({ deliveryId, webhookId, body }): Promise<DeliveryOutcome | 'retry'> => {
    try {
      await deliverQuickly({ deliveryId, webhookId, body });
      return { deliveryId, state: DeliveryStage.DELIVERED };
    } catch (error) {
      return isFinalFailure(error) ? giveUp(deliveryId) : 'retry';
    }
  });
  const retried = await inLanes(
    deliveries.filter((_, i) => quick[i] === 'retry'),
    retryConcurrency,
    deliverPersistently,
  );
  return quick.map((outcome) => (outcome === 'retry' ? retried.shift()! : outcome));
}

/** Delivers one event to every webhook of one application; a delivery that gives up is recorded FAILED. */
export async function notifyApplication(input: NotifyInput): Promise<DeliveryOutcome[]> {
  const planned = await planDeliveries({ applicationId: input.applicationId, eventId: input.eventId, eventType: input.event.type, event: input.event });
  const deliveries = planned.map(({ deliveryId, webhookId }) => ({ deliveryId, webhookId, body: notificationBody(deliveryId, input.applicationId, input.event) }));
  // Histories from before the bound delivered to every webhook at once, and still do.
  if (!patched('bounded-delivery-concurrency')) return finish(await Promise.all(deliveries.map(deliverPersistently)));
  return finish(await deliverInTwoPasses(deliveries));
}

/** Records the workflow's overall stage (DELIVERED when every delivery was) and returns its outcomes. */
export function finish(outcomes: DeliveryOutcome[]): DeliveryOutcome[] {
  const delivered = outcomes.every((o) => o.state === DeliveryStage.DELIVERED);
  upsertSearchAttributes([{ key: MeridianStage, value: delivered ? DeliveryStage.DELIVERED : DeliveryStage.FAILED }]);
  return outcomes;
}
