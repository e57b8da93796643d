import type pg from 'pg';
import type { Binding, Sealed } from '../trust/encryption.js';
import { defaultCredentialsBinding } from './definitions.js';
import { withTransaction, type Db } from './tx.js';

export const SLOT_STATUSES = ['PENDING', 'SUCCEEDED', 'FAILED', 'UNUSED'] as const;
export type SlotStatus = (typeof SLOT_STATUSES)[number];

/** Credentials an application sets for one runtime (stored only sealed, as this object's JSON). */
export interface Credentials {
  basic?: { username: string; password: string };
  oauth?: { clientId: string; clientSecret: string; tokenUrl: string };
  bearer?: { token: string };
  headers?: Record<string, string>;
  queryParams?: Record<string, string>;
}

export interface SlotRow {
  api_id: string;
  api_name: string | null;
  runtime_id: string;
  runtime_name: string | null;
  status: SlotStatus;
  updated_at: Date;
}

const SLOT_COLUMNS = `s.api_id, d.name AS api_name, s.runtime_id, r.name AS runtime_name, s.status, s.updated_at`;
const SLOT_JOINS = `LEFT JOIN definitions d ON d.id = s.api_id LEFT JOIN runtimes r ON r.id = s.runtime_id`;

/** A page of an application's slots in (apiId, runtimeId) order, after `after` when given. */
export async function listSlots(
  db: Db,
  applicationId: string,
  options: { status?: SlotStatus; limit: number; after?: { apiId: string; runtimeId: string } },
): Promise<SlotRow[]> {
  const { rows } = await db.query<SlotRow>(
    `SELECT ${SLOT_COLUMNS} FROM credential_slots s ${SLOT_JOINS}
     WHERE s.application_id = $1 AND ($2::text IS NULL OR s.status = $2)
       AND ($3::uuid IS NULL OR (s.api_id, s.runtime_id) > ($3::uuid, $4::uuid))
     ORDER BY s.api_id, s.runtime_id LIMIT $5`,
    [applicationId, options.status ?? null, options.after?.apiId ?? null, options.after?.runtimeId ?? null, options.limit],
  );
  return rows;
}

/** What credentials set for one slot are bound to: the slot (its API and runtime) and its tenant. */
export const slotBinding = (tenantId: string, apiId: string, runtimeId: string): Binding => ({ table: 'credential_slots', row: `${apiId}/${runtimeId}`, tenant: tenantId });

/**
 * Sets (sealed for {@link slotBinding}) or clears (null) the credentials of an open slot of the
 * application, and gives the runtime a new configVersion in the same transaction. Undefined when there
 * is no open slot: the API is not the application's, or the runtime does not share a scenario with it.
 */
export async function setCredentials(pool: pg.Pool, owner: { tenantId: string; applicationId: string }, apiId: string, runtimeId: string, sealed: Sealed | null): Promise<SlotRow | undefined> {
  return withTransaction(pool, async (client) => {
    const { rowCount } = await client.query(
      `UPDATE credential_slots SET status = $5, secret_ciphertext = $6, secret_key_id = $7, announce_txid = NULL, updated_at = now()
       WHERE api_id = $1 AND runtime_id = $2 AND application_id = $3 AND tenant_id = $4 AND status <> 'UNUSED'`,
      [apiId, runtimeId, owner.applicationId, owner.tenantId, sealed ? 'SUCCEEDED' : 'PENDING', sealed?.ciphertext ?? null, sealed?.keyId ?? null],
    );
    if (!rowCount) return undefined;
    await client.query('UPDATE runtimes SET config_version = config_version + 1 WHERE id = $1', [runtimeId]);
    const { rows } = await client.query<SlotRow>(`SELECT ${SLOT_COLUMNS} FROM credential_slots s ${SLOT_JOINS} WHERE s.api_id = $1 AND s.runtime_id = $2`, [apiId, runtimeId]);
    return rows[0];
  });
}

/**
 * Where a slot's secret may be bound: the slot itself (credentials set for it), or its API's definition
 * (default credentials, copied into new slots by the database).
 */
export const slotSecretBindings = (tenantId: string, apiId: string, runtimeId: string): Binding[] => [
  slotBinding(tenantId, apiId, runtimeId),
  defaultCredentialsBinding(tenantId, apiId),
];

/** The sealed credentials set for a runtime, by API id, each with the bindings it may open under. */
export async function credentialsOfRuntime(db: Db, runtimeId: string): Promise<Map<string, Sealed>> {
  const { rows } = await db.query<{ tenant_id: string; api_id: string; secret_ciphertext: Buffer; secret_key_id: string }>(
    `SELECT tenant_id, api_id, secret_ciphertext, secret_key_id FROM credential_slots WHERE runtime_id = $1 AND status = 'SUCCEEDED'`,
    [runtimeId],
  );
  return new Map(
    rows.map((r) => [r.api_id, { ciphertext: r.secret_ciphertext, keyId: r.secret_key_id, boundTo: slotSecretBindings(r.tenant_id, r.api_id, runtimeId) }]),
  );
}

export interface Announcement {
  applicationId: string;
  runtimeId: string;
  runtimeName: string;
  eventUrl: string | null;
  configVersion: number;
  /** The transaction that opened the slots: with the pair, a stable event id. */
  txid: string;
}

/** Pairs with slots that became PENDING for a CONNECTED runtime and whose application was not told yet. */
export async function pendingAnnouncements(db: Db, tenantId: string): Promise<Announcement[]> {
  const { rows } = await db.query<Announcement>(
    `SELECT DISTINCT s.application_id AS "applicationId", s.runtime_id AS "runtimeId", r.name AS "runtimeName", r.event_url AS "eventUrl",
            a.config_version::int AS "configVersion", s.announce_txid::text AS txid
     FROM credential_slots s JOIN runtimes r ON r.id = s.runtime_id JOIN applications a ON a.id = s.application_id
     WHERE s.tenant_id = $1 AND s.announce_txid IS NOT NULL`,
    [tenantId],
  );
  return rows;
}

/** Marks a pair's pending slots as announced, unless a newer transaction opened slots again meanwhile. */
export async function markAnnounced(db: Db, announcement: Announcement): Promise<void> {
  await db.query('UPDATE credential_slots SET announce_txid = NULL WHERE application_id = $1 AND runtime_id = $2 AND announce_txid = $3', [
    announcement.applicationId,
    announcement.runtimeId,
    announcement.txid,
  ]);
}

/**
 * Removes UNUSED slots untouched for `retentionDays` (at most `limit`, of `tenantIds` when given) and
 * returns how many. Such a slot serves no pair: its API and runtime no longer share a scenario, or one of
 * them is gone. Its application was told (or its runtime is gone, and the announcement with it). A pair
 * that shares a scenario again gets a new slot.
 */
export async function removeUnusedSlots(db: Db, options: { retentionDays: number; tenantIds?: string[]; limit: number }): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM credential_slots WHERE (api_id, runtime_id) IN (
       SELECT api_id, runtime_id FROM credential_slots s
        WHERE s.status = 'UNUSED' AND s.updated_at < now() - make_interval(days => $1)
          AND ($2::uuid[] IS NULL OR s.tenant_id = ANY($2::uuid[]))
          AND (s.announce_txid IS NULL OR NOT EXISTS (SELECT 1 FROM runtimes r WHERE r.id = s.runtime_id))
        LIMIT $3 FOR UPDATE SKIP LOCKED)
     AND status = 'UNUSED'`,
    [options.retentionDays, options.tenantIds ?? null, options.limit],
  );
  return rowCount ?? 0;
}
