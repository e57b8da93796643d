// Delivery replay (docs/api.md, "Application Webhook API"): the rules for sending deliveries again.
// The API marks the deliveries PENDING for a `redeliver` workflow and starts it in one transaction, so a
// start that fails changes nothing; the workflow takes the deliveries and sends them with their own ids.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type pg from 'pg';
import {
  lockDelivery,
  lockFailedDeliveries,
  markRedelivering,
  unredeliverableFailures,
  type DeliveryOwner,
  type DeliveryRow,
  type FailedWindow,
} from '../db/deliveries.js';
import { withTransaction } from '../db/tx.js';
import { DeliveryStage, applicationAttributes, workflowId } from '../workflows/ids.js';
import { redeliver, type RedeliveryInput } from '../workflows/redelivery.js';

/** Deliveries one request redelivers at most; the caller continues with `nextSince`. */
export const MAX_REDELIVERIES_PER_REQUEST = 1000;

/** Thrown by {@link redeliverOne} when the owner has no delivery with that id (another tenant's or application's included). */
export class DeliveryNotFound extends Error {
  override name = 'DeliveryNotFound';
}

/** Thrown by {@link redeliverOne} (and, for a redelivery under way, {@link redeliverFailed}) when deliveries cannot be redelivered now; the message says why. */
export class RedeliveryRefused extends Error {
  override name = 'RedeliveryRefused';
}

export interface RedeliveryDeps {
  pool: pg.Pool;
  temporal: Client;
  /** Task queue of the management-plane worker. */
  taskQueue: string;
}

/** One delivery sent again: the row as it is now (PENDING) and the workflow that sends it. */
export interface SingleRedelivery {
  delivery: DeliveryRow;
  workflowId: string;
}

/** FAILED deliveries sent again: which, by what workflow (none when there were none), and what is left. */
export interface BatchRedelivery {
  workflowId: string | null;
  deliveryIds: string[];
  /** More FAILED deliveries of the window remain after these; continue from `nextSince`. */
  more: boolean;
  /** The creation time of the last one scheduled when there are more (the next request's `since`); else null. */
  nextSince: Date | null;
  /** FAILED deliveries of the window that cannot be redelivered, by why. */
  skipped: { withoutEvent: number; webhookDisabled: number };
}

/**
 * Sends one delivery of the owner again, DELIVERED or FAILED, with its id: `redelivery:<id>:<n>`.
 * DeliveryNotFound for an id the owner does not have; RedeliveryRefused while it is PENDING, when it
 * predates stored events, or when its webhook is disabled. A webhook removed takes its deliveries along.
 */
export async function redeliverOne(deps: RedeliveryDeps, owner: DeliveryOwner, deliveryId: string): Promise<SingleRedelivery> {
  return withTransaction(deps.pool, async (client) => {
    const found = await lockDelivery(client, owner, deliveryId);
    if (!found) throw new DeliveryNotFound('no such delivery');
    if (found.state === 'PENDING') throw new RedeliveryRefused('the delivery is still being delivered (PENDING); it can be redelivered once it is DELIVERED or FAILED');
    if (!found.has_event) {
      throw new RedeliveryRefused('the delivery was made before Meridian kept what it sent (migration 016_delivery_replay), so it cannot be redelivered');
    }
    if (found.webhook_disabled) {
      throw new RedeliveryRefused(`its webhook is disabled (${found.webhook_disabled_reason ?? 'no reason given'}); add the webhook again to receive new events`);
    }
    const id = workflowId.redelivery(deliveryId, found.redeliveries + 1);
    const [delivery] = await markRedelivering(client, [deliveryId], id);
    await start(deps, id, { ...owner, deliveryIds: [deliveryId], states: ['FAILED', 'DELIVERED'] }, `Redeliver delivery ${deliveryId} of application ${owner.applicationId}`);
    return { delivery: delivery!, workflowId: id };
  });
}

/**
 * Sends the owner's FAILED deliveries created in the window again, oldest first, at most `limit`
 * (≤ {@link MAX_REDELIVERIES_PER_REQUEST}), in one workflow `redeliveries:<applicationId>:<first id>:<n>`.
 * Deliveries without a stored event or to a disabled webhook are counted in `skipped`.
 */
export async function redeliverFailed(deps: RedeliveryDeps, window: FailedWindow, limit = MAX_REDELIVERIES_PER_REQUEST): Promise<BatchRedelivery> {
  return withTransaction(deps.pool, async (client) => {
    const { rows, more } = await lockFailedDeliveries(client, window, Math.min(limit, MAX_REDELIVERIES_PER_REQUEST));
    const skipped = await unredeliverableFailures(client, window);
    const [first] = rows;
    if (!first) return { workflowId: null, deliveryIds: [], more: false, nextSince: null, skipped };
    const id = workflowId.redeliveries(window.applicationId, first.id, first.redeliveries + 1);
    const deliveryIds = rows.map((row) => row.id);
    await markRedelivering(client, deliveryIds, id);
    const since = window.since.toISOString();
    await start(deps, id, { tenantId: window.tenantId, applicationId: window.applicationId, deliveryIds, states: ['FAILED'] }, `Redeliver ${deliveryIds.length} FAILED deliveries of application ${window.applicationId} created since ${since}`);
    return { workflowId: id, deliveryIds, more, nextSince: more ? rows[rows.length - 1]!.created_at : null, skipped };
  });
}

/** Starts the redelivery workflow in the caller's transaction (which commits only once it started); an id used before is a redelivery under way. */
async function start(deps: RedeliveryDeps, id: string, input: RedeliveryInput, summary: string): Promise<void> {
  try {
    await deps.temporal.workflow.start(redeliver, {
      workflowId: id,
      taskQueue: deps.taskQueue,
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: applicationAttributes(input.tenantId, input.applicationId, DeliveryStage.DELIVERING),
      staticSummary: summary,
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new RedeliveryRefused(`the redelivery ${id} is under way already`);
    throw error;
  }
}
