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
  created_at: Date;
  updated_at: Date;
}

export interface PlannedDelivery {
  deliveryId: string;
  webhookId: string;
}

/** The application's most recent deliveries, newest first. */
export async function recentDeliveries(db: Db, applicationId: string, limit: number): Promise<DeliveryRow[]> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT id, webhook_id, event_id, event_type, state, attempts, last_status, last_error, created_at, updated_at
     FROM deliveries WHERE application_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
    [applicationId, limit],
  );
  return rows;
}

/** One delivery per enabled CONFIGURATION_CHANGED webhook of the application; the same event twice yields the same deliveries. */
export async function planDeliveries(db: Db, event: { applicationId: string; eventId: string; eventType: string }): Promise<PlannedDelivery[]> {
  const { rows } = await db.query<PlannedDelivery>(
    `INSERT INTO deliveries (tenant_id, application_id, webhook_id, event_id, event_type)
     SELECT tenant_id, application_id, id, $2, $3 FROM webhooks
      WHERE application_id = $1 AND type = 'CONFIGURATION_CHANGED' AND disabled_at IS NULL
     ON CONFLICT (webhook_id, event_id) DO UPDATE SET updated_at = deliveries.updated_at
     RETURNING id AS "deliveryId", webhook_id AS "webhookId"`,
    [event.applicationId, event.eventId, event.eventType],
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
