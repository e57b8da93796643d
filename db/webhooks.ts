import type { Binding, Sealed } from '../trust/encryption.js';
import type { Db } from './tx.js';

export type WebhookType = 'CONFIGURATION_CHANGED';

/** A webhook as applications and administrators see it: whether it has a secret, never the secret. */
export interface WebhookRow {
  id: string;
  application_id: string;
  type: WebhookType;
  url: string;
  has_secret: boolean;
  disabled_at: Date | null;
  disabled_reason: string | null;
  created_at: Date;
}

const COLUMNS = 'id, application_id, type, url, secret_ciphertext IS NOT NULL AS has_secret, disabled_at, disabled_reason, created_at';

/** Webhooks of an application (or the one with `id`) in creation order. */
export async function listWebhooks(db: Db, applicationId: string, id?: string): Promise<WebhookRow[]> {
  const { rows } = await db.query<WebhookRow>(
    `SELECT ${COLUMNS} FROM webhooks WHERE application_id = $1 AND ($2::uuid IS NULL OR id = $2) ORDER BY created_at, id`,
    [applicationId, id ?? null],
  );
  return rows;
}

/** Where a webhook's secret is stored: it opens only in this row of this tenant (AES-GCM associated data). */
export const webhookSecretBinding = (tenantId: string, webhookId: string): Binding => ({ table: 'webhooks', row: webhookId, tenant: tenantId });

export interface NewWebhook {
  /** Chosen before the insert, so that the secret can be sealed for its row. */
  id: string;
  tenantId: string;
  applicationId: string;
  type: WebhookType;
  url: string;
  /** The signing secret, sealed for {@link webhookSecretBinding}. */
  secret?: Sealed;
}

/**
 * Locks the application's row until the transaction ends, so concurrent additions count one after the
 * other, then counts its webhooks (in a statement of its own: it sees what the previous holder of the
 * lock committed).
 */
export async function lockAndCountWebhooks(db: Db, applicationId: string): Promise<number> {
  await db.query('SELECT 1 FROM applications WHERE id = $1 FOR NO KEY UPDATE', [applicationId]);
  const { rows } = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM webhooks WHERE application_id = $1', [applicationId]);
  return rows[0]!.count;
}

/** Adds a webhook to an application; its creation time is the statement's, so webhooks added in one transaction list in that order. */
export async function insertWebhook(db: Db, webhook: NewWebhook): Promise<WebhookRow> {
  const { rows } = await db.query<WebhookRow>(
    `INSERT INTO webhooks (id, tenant_id, application_id, type, url, secret_ciphertext, secret_key_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp()) RETURNING ${COLUMNS}`,
    [webhook.id, webhook.tenantId, webhook.applicationId, webhook.type, webhook.url, webhook.secret?.ciphertext ?? null, webhook.secret?.keyId ?? null],
  );
  return rows[0]!;
}

/** Removes a webhook of the application; false when it has none with that id. */
export async function deleteWebhook(db: Db, applicationId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM webhooks WHERE id = $1 AND application_id = $2', [id, applicationId]);
  return !!rowCount;
}

/** Where a delivery goes: the webhook's URL, its sealed secret if it has one, and whether it is disabled; undefined when it is gone. */
export async function webhookTarget(db: Db, id: string): Promise<{ url: string; secret?: Sealed; disabled: boolean } | undefined> {
  const { rows } = await db.query<{ tenant_id: string; url: string; secret_ciphertext: Buffer | null; secret_key_id: string | null; disabled_at: Date | null }>(
    'SELECT tenant_id, url, secret_ciphertext, secret_key_id, disabled_at FROM webhooks WHERE id = $1',
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    url: row.url,
    ...(row.secret_ciphertext &&
      row.secret_key_id && { secret: { ciphertext: row.secret_ciphertext, keyId: row.secret_key_id, boundTo: [webhookSecretBinding(row.tenant_id, id)] } }),
    disabled: row.disabled_at !== null,
  };
}

/** Disables a webhook, saying why; deliveries to it stop. */
export async function disableWebhook(db: Db, id: string, reason: string): Promise<void> {
  await db.query('UPDATE webhooks SET disabled_at = now(), disabled_reason = $2 WHERE id = $1', [id, reason]);
}
