import type { Db } from './tx.js';

export type DeliveryState = 'PENDING' | 'DELIVERED' | 'FAILED';

/** One delivery of one event to one webhook; its id is the stable Meridian-Delivery header. */
export interface DeliveryRow {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  /** How often it was redelivered; the workflow of the latest redelivery. */
  redeliveries: number;
  redelivery_workflow_id: string | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, webhook_id, event_id, event_type, state, attempts, last_status, last_error, redeliveries, redelivery_workflow_id, created_at, updated_at';

export interface PlannedDelivery {
  deliveryId: string;
  webhookId: string;
}

/** The application's most recent deliveries, newest first. */
export async function recentDeliveries(db: Db, applicationId: string, limit: number): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(`SELECT ${COLUMNS} FROM deliveries WHERE application_id = $1 ORDER BY created_at DESC, id LIMIT $2`, [applicationId, limit]);
  return rows;
}

/**
 * One delivery per enabled CONFIGURATION_CHANGED webhook of the application; the same event twice yields
 * the same deliveries. Each stores the notification's `event` (the body without `id` and `applicationId`),
 * so that it can be redelivered later; a notification workflow from before it was passed stores none.
 */
export async function planDeliveries(db: Db, event: { applicationId: string; eventId: string; eventType: string; event?: object }): Promise<PlannedDelivery[]> {
  const { rows } = await db.query<PlannedDelivery>(
    `INSERT INTO deliveries (tenant_id, application_id, webhook_id, event_id, event_type, event)
     SELECT tenant_id, application_id, id, $2, $3, $4::json FROM webhooks
      WHERE application_id = $1 AND type = 'CONFIGURATION_CHANGED' AND disabled_at IS NULL
     ON CONFLICT (webhook_id, event_id) DO UPDATE SET updated_at = deliveries.updated_at
     RETURNING id AS "deliveryId", webhook_id AS "webhookId"`,
    [event.applicationId, event.eventId, event.eventType, event.event === undefined ? null : JSON.stringify(event.event)],
  );
  return rows;
}

/** Counts one attempt of a delivery with its outcome: the HTTP status and error replace the last ones, the state only when given. */
export async function recordAttempt(db: Db, deliveryId: string, outcome: { state?: DeliveryState; status?: number | null; error?: string | null }): Promise<void> {
  await db.query(
    `UPDATE deliveries SET attempts = attempts + 1, state = COALESCE($2, state), last_status = $3, last_error = $4, updated_at = now() WHERE id = $1`,
    [deliveryId, outcome.state ?? null, outcome.status ?? null, outcome.error ?? null],
  );
}

/** Gives up on a pending delivery; its last error stays, or becomes `reason` when it had none. */
export async function markDeliveryFailed(db: Db, deliveryId: string, reason: string): Promise<void> {
  await db.query(`UPDATE deliveries SET state = 'FAILED', last_error = COALESCE(last_error, $2), updated_at = now() WHERE id = $1 AND state = 'PENDING'`, [
    deliveryId,
    reason,
  ]);
}

/** Whose deliveries: an application of a tenant. */
export interface DeliveryOwner {
  tenantId: string;
  applicationId: string;
}

/** A delivery as a redelivery decides on it: its state, whether its event is stored, and its webhook's. */
export interface RedeliveryCandidate {
  id: string;
  state: DeliveryState;
  redeliveries: number;
  has_event: boolean;
  webhook_disabled_reason: string | null;
  webhook_disabled: boolean;
}

/** The owner's delivery `id`, locked until the transaction ends; undefined when the owner has none with that id. */
export async function lockDelivery(db: Db, owner: DeliveryOwner, id: string): Promise<RedeliveryCandidate | undefined> {
  const { rows } = await db.query<RedeliveryCandidate>(
    `SELECT d.id, d.state, d.redeliveries, d.event IS NOT NULL AS has_event,
            w.disabled_at IS NOT NULL AS webhook_disabled, w.disabled_reason AS webhook_disabled_reason
       FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
      WHERE d.id = $1 AND d.tenant_id = $2 AND d.application_id = $3
        FOR UPDATE OF d`,
    [id, owner.tenantId, owner.applicationId],
  );
  return rows[0];
}

/** FAILED deliveries created in [since, until) — until open when not given. */
export interface FailedWindow extends DeliveryOwner {
  since: Date;
  until?: Date;
}

/**
 * The owner's FAILED deliveries of the window that can be redelivered (event stored, webhook enabled),
 * oldest first, at most `limit`, locked until the transaction ends; rows another transaction holds are
 * skipped (a concurrent redelivery has them). `more` says whether there are others after them.
 */
export async function lockFailedDeliveries(db: Db, window: FailedWindow, limit: number): Promise<{ rows: Array<{ id: string; redeliveries: number; created_at: Date }>; more: boolean }> {
  const { rows } = await db.query<{ id: string; redeliveries: number; created_at: Date }>(
    `SELECT d.id, d.redeliveries, d.created_at
       FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
      WHERE d.application_id = $1 AND d.tenant_id = $2 AND d.state = 'FAILED'
        AND d.created_at >= $3 AND ($4::timestamptz IS NULL OR d.created_at < $4)
        AND d.event IS NOT NULL AND w.disabled_at IS NULL
      ORDER BY d.created_at, d.id
      LIMIT $5
        FOR UPDATE OF d SKIP LOCKED`,
    [window.applicationId, window.tenantId, window.since, window.until ?? null, limit + 1],
  );
  return { rows: rows.slice(0, limit), more: rows.length > limit };
}

/** The owner's FAILED deliveries of the window that cannot be redelivered: without a stored event (older than 016), or to a disabled webhook. */
export async function unredeliverableFailures(db: Db, window: FailedWindow): Promise<{ withoutEvent: number; webhookDisabled: number }> {
  const { rows } = await db.query<{ withoutEvent: number; webhookDisabled: number }>(
    `SELECT count(*) FILTER (WHERE d.event IS NULL)::int AS "withoutEvent",
            count(*) FILTER (WHERE d.event IS NOT NULL AND w.disabled_at IS NOT NULL)::int AS "webhookDisabled"
       FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
      WHERE d.application_id = $1 AND d.tenant_id = $2 AND d.state = 'FAILED'
        AND d.created_at >= $3 AND ($4::timestamptz IS NULL OR d.created_at < $4)`,
    [window.applicationId, window.tenantId, window.since, window.until ?? null],
  );
  return rows[0]!;
}

/** Moves deliveries back to PENDING for the redelivery workflow `workflowId`, counting the redelivery. */
export async function markRedelivering(db: Db, ids: string[], workflowId: string): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `UPDATE deliveries SET state = 'PENDING', redeliveries = redeliveries + 1, redelivery_workflow_id = $2, updated_at = now()
      WHERE id = ANY($1::uuid[]) RETURNING ${COLUMNS}`,
    [ids, workflowId],
  );
  return rows;
}

/**
 * The deliveries the redelivery workflow `workflowId` sends, with their stored events, oldest first.
 * The API marked them (PENDING, this workflow) in the transaction that started it; a row that
 * transaction did not leave so (it rolled back after the start) and that is still in one of `states`
 * is marked here. Rows someone else redelivers meanwhile are not this workflow's. Idempotent.
 */
export async function takeRedeliveries(db: Db, input: { workflowId: string; deliveryIds: string[]; states: DeliveryState[] }): Promise<Array<PlannedDelivery & { event: object }>> {
  await db.query(
    `UPDATE deliveries SET state = 'PENDING', redeliveries = redeliveries + 1, redelivery_workflow_id = $2, updated_at = now()
      WHERE id = ANY($1::uuid[]) AND state = ANY($3::text[]) AND redelivery_workflow_id IS DISTINCT FROM $2`,
    [input.deliveryIds, input.workflowId, input.states],
  );
  const { rows } = await db.query<PlannedDelivery & { event: object }>(
    `SELECT id AS "deliveryId", webhook_id AS "webhookId", event FROM deliveries
      WHERE id = ANY($1::uuid[]) AND redelivery_workflow_id = $2 AND state = 'PENDING' AND event IS NOT NULL
      ORDER BY created_at, id`,
    [input.deliveryIds, input.workflowId],
  );
  return rows;
}
