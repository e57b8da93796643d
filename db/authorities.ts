// Every query on Meridian's certificate authorities and their rotations (migration 019).
import type { Binding } from '../trust/encryption.js';
import { WORKING } from './certificates.js';
import type { Db } from './tx.js';

export const CaState = { PREPARED: 'PREPARED', ACTIVE: 'ACTIVE', RETIRING: 'RETIRING', RETIRED: 'RETIRED' } as const;
export type CaState = (typeof CaState)[keyof typeof CaState];

export interface CaRow {
  fingerprint: string;
  certificate: string;
  /** The sealed private key; absent for the CA whose key stays in its files. */
  keyCiphertext: Buffer | null;
  keyId: string | null;
  state: CaState;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
}

const CA_COLUMNS = `fingerprint, certificate, key_ciphertext AS "keyCiphertext", key_id AS "keyId", state,
  created_at AS "createdAt", activated_at AS "activatedAt", retired_at AS "retiredAt"`;

/** A CA as it is shown: never its key, only where the key is kept. */
export type CaListing = Omit<CaRow, 'keyCiphertext' | 'keyId'> & { sealedKey: boolean };

/** A CA's sealed key is bound to its row (authorities belong to no tenant). */
export const caKeyBinding = (fingerprint: string): Binding => ({ table: 'certificate_authorities', row: fingerprint, tenant: '' });

/** Every CA that is not retired, the ACTIVE one first, then the others oldest first. */
export async function trustedAuthorities(db: Db): Promise<CaRow[]> {
  const { rows } = await db.query<CaRow>(
    `SELECT ${CA_COLUMNS} FROM certificate_authorities WHERE state <> 'RETIRED' ORDER BY state = 'ACTIVE' DESC, created_at, fingerprint`,
  );
  return rows;
}

/** Every CA, newest first (without keys). */
export async function allAuthorities(db: Db): Promise<CaListing[]> {
  const { rows } = await db.query<CaListing>(
    `SELECT fingerprint, certificate, state, created_at AS "createdAt", activated_at AS "activatedAt", retired_at AS "retiredAt", key_id IS NOT NULL AS "sealedKey"
     FROM certificate_authorities ORDER BY created_at DESC, fingerprint`,
  );
  return rows;
}

/** Records the CA of the files as ACTIVE when no CA is recorded yet (the first rotation's old CA). */
export async function recordFileCa(db: Db, ca: { fingerprint: string; certificate: string }): Promise<void> {
  await db.query(
    `INSERT INTO certificate_authorities (fingerprint, certificate, state, activated_at)
     SELECT $1, $2, 'ACTIVE', now() WHERE NOT EXISTS (SELECT 1 FROM certificate_authorities) ON CONFLICT DO NOTHING`,
    [ca.fingerprint, ca.certificate],
  );
}

/** Records a new CA as PREPARED, its key sealed. */
export async function recordPreparedCa(db: Db, ca: { fingerprint: string; certificate: string; keyCiphertext: Buffer; keyId: string }): Promise<void> {
  await db.query(
    `INSERT INTO certificate_authorities (fingerprint, certificate, key_ciphertext, key_id, state) VALUES ($1, $2, $3, $4, 'PREPARED') ON CONFLICT DO NOTHING`,
    [ca.fingerprint, ca.certificate, ca.keyCiphertext, ca.keyId],
  );
}

/**
 * The ACTIVE CA becomes RETIRING and `fingerprint` (PREPARED) ACTIVE, in the caller's transaction; false
 * when it is not PREPARED (activated before).
 */
export async function activateAuthority(db: Db, fingerprint: string): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM certificate_authorities WHERE fingerprint = $1 AND state = 'PREPARED' FOR UPDATE`, [fingerprint]);
  if (!rowCount) return false;
  await db.query(`UPDATE certificate_authorities SET state = 'RETIRING' WHERE state = 'ACTIVE'`);
  await db.query(`UPDATE certificate_authorities SET state = 'ACTIVE', activated_at = now() WHERE fingerprint = $1`, [fingerprint]);
  return true;
}

/** `fingerprint` (RETIRING) leaves the trust bundle. */
export async function retireAuthority(db: Db, fingerprint: string): Promise<void> {
  await db.query(`UPDATE certificate_authorities SET state = 'RETIRED', retired_at = now() WHERE fingerprint = $1 AND state = 'RETIRING'`, [fingerprint]);
}

/** Certificates recorded before rotations existed were signed by the CA of the files: say so. */
export async function attributeUnattributedCertificates(db: Db, fileCaFingerprint: string): Promise<void> {
  await db.query('UPDATE certificates SET issuer = $1 WHERE issuer IS NULL', [fileCaFingerprint]);
}

/** How far the holders have moved: holders with a live certificate of the new CA, and of the old one. */
export interface RotationProgress {
  renewed: number;
  remaining: number;
}

/**
 * Holders (applications and runtimes) with a working certificate (unexpired, not revoked yet: one a
 * renewal replaced works until its revocation, after the renewal overlap) signed by `newCa`, and those
 * with one signed by `oldCa`: the latter still depend on the old CA.
 */
export async function rotationProgress(db: Db, oldCa: string, newCa: string): Promise<RotationProgress> {
  const { rows } = await db.query<RotationProgress>(
    `SELECT count(DISTINCT object_id) FILTER (WHERE issuer = $2)::int AS renewed,
            count(DISTINCT object_id) FILTER (WHERE issuer = $1)::int AS remaining
     FROM certificates WHERE issuer IN ($1, $2) AND ${WORKING()}`,
    [oldCa, newCa],
  );
  return rows[0]!;
}

/** Up to `limit` holders that still depend on `oldCa`, to name them in a refusal. */
export async function holdersOf(db: Db, oldCa: string, limit: number): Promise<Array<{ objectKind: string; objectId: string; tenantId: string }>> {
  const { rows } = await db.query<{ objectKind: string; objectId: string; tenantId: string }>(
    `SELECT DISTINCT object_kind AS "objectKind", object_id AS "objectId", tenant_id AS "tenantId" FROM certificates
     WHERE issuer = $1 AND ${WORKING()} ORDER BY 1, 2 LIMIT $2`,
    [oldCa, limit],
  );
  return rows;
}

/** When the longest-lived certificate `ca` signed expires, revoked ones included (null when every one expired). */
export async function lastExpiryOf(db: Db, ca: string): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>('SELECT max(not_after) AS at FROM certificates WHERE issuer = $1 AND not_after > now()', [ca]);
  return rows[0]!.at;
}

/**
 * Up to `limit` runtimes or applications after `after` (in id order) fetch their configuration again (a new
 * trust bundle, or a CA to renew under); returns the last id bumped, null when there were none.
 */
export async function bumpConfigurations(db: Db, table: 'runtimes' | 'applications', after: string | null, limit: number): Promise<{ bumped: number; last: string | null }> {
  const { rows } = await db.query<{ bumped: number; last: string | null }>(
    `WITH batch AS (SELECT id FROM ${table} WHERE $1::uuid IS NULL OR id > $1::uuid ORDER BY id LIMIT $2),
     bumped AS (UPDATE ${table} t SET config_version = t.config_version + 1 FROM batch WHERE t.id = batch.id RETURNING t.id)
     SELECT count(*)::int AS bumped, max(id::text) AS last FROM bumped`,
    [after, limit],
  );
  return rows[0]!;
}

/** Applications with an enabled CONFIGURATION_CHANGED webhook, after `after` (keyset paging by id). */
export async function applicationsWithWebhooks(db: Db, after: string | null, limit: number): Promise<Array<{ tenantId: string; id: string; configVersion: number }>> {
  const { rows } = await db.query<{ tenantId: string; id: string; configVersion: string }>(
    `SELECT a.tenant_id AS "tenantId", a.id, a.config_version AS "configVersion" FROM applications a
     WHERE ($1::uuid IS NULL OR a.id > $1::uuid)
       AND EXISTS (SELECT 1 FROM webhooks w WHERE w.application_id = a.id AND w.type = 'CONFIGURATION_CHANGED' AND w.disabled_at IS NULL)
     ORDER BY a.id LIMIT $2`,
    [after, limit],
  );
  return rows.map((r) => ({ ...r, configVersion: Number(r.configVersion) }));
}

export const RotationStage = { REQUESTED: 'REQUESTED', PREPARED: 'PREPARED', ACTIVATED: 'ACTIVATED', RETIRED: 'RETIRED', FAILED: 'FAILED' } as const;
export type RotationStage = (typeof RotationStage)[keyof typeof RotationStage];

export interface RotationRow {
  id: string;
  state: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';
  stage: RotationStage;
  retire: 'auto' | 'manual';
  oldCa: string | null;
  newCa: string | null;
  progress: (RotationProgress & { checkedAt?: string }) | null;
  message: string | null;
  workflowId: string | null;
  requestedBy: string | null;
  startedAt: Date;
  preparedAt: Date | null;
  activatedAt: Date | null;
  finishedAt: Date | null;
}

const ROTATION_COLUMNS = `id, state, stage, retire, old_ca AS "oldCa", new_ca AS "newCa", progress, message, workflow_id AS "workflowId",
  requested_by AS "requestedBy", started_at AS "startedAt", prepared_at AS "preparedAt", activated_at AS "activatedAt", finished_at AS "finishedAt"`;

/** Records a requested rotation; undefined when one is in progress already. */
export async function insertRotation(db: Db, input: { id: string; retire: 'auto' | 'manual'; requestedBy: string; workflowId: string }): Promise<RotationRow | undefined> {
  const { rows } = await db.query<RotationRow>(
    `INSERT INTO ca_rotations (id, retire, requested_by, workflow_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING ${ROTATION_COLUMNS}`,
    [input.id, input.retire, input.requestedBy, input.workflowId],
  );
  return rows[0];
}

/** The rotation in progress, if any. */
export async function rotationInProgress(db: Db): Promise<RotationRow | undefined> {
  const { rows } = await db.query<RotationRow>(`SELECT ${ROTATION_COLUMNS} FROM ca_rotations WHERE state = 'IN_PROGRESS'`);
  return rows[0];
}

/** The latest rotations, newest first. */
export async function latestRotations(db: Db, limit: number): Promise<RotationRow[]> {
  const { rows } = await db.query<RotationRow>(`SELECT ${ROTATION_COLUMNS} FROM ca_rotations ORDER BY started_at DESC, id LIMIT $1`, [limit]);
  return rows;
}

/** A rotation; with `lock` (in a transaction) its row stays locked until the transaction ends. */
export async function rotationById(db: Db, id: string, lock = false): Promise<RotationRow | undefined> {
  const { rows } = await db.query<RotationRow>(`SELECT ${ROTATION_COLUMNS} FROM ca_rotations WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0];
}

/** Moves a rotation on: its stage (with the time the phase began), progress, message, and its end. */
export async function updateRotation(
  db: Db,
  id: string,
  change: { stage?: RotationStage; oldCa?: string; newCa?: string; progress?: RotationProgress & { checkedAt?: string }; message?: string | null; state?: 'SUCCEEDED' | 'FAILED' },
): Promise<void> {
  await db.query(
    `UPDATE ca_rotations SET
       stage = coalesce($2, stage),
       old_ca = coalesce($3, old_ca),
       new_ca = coalesce($4, new_ca),
       progress = coalesce($5::jsonb, progress),
       message = CASE WHEN $6::boolean THEN $7 ELSE message END,
       state = coalesce($8, state),
       prepared_at = CASE WHEN $2 = 'PREPARED' THEN coalesce(prepared_at, now()) ELSE prepared_at END,
       activated_at = CASE WHEN $2 = 'ACTIVATED' THEN coalesce(activated_at, now()) ELSE activated_at END,
       finished_at = CASE WHEN $8::text IS NOT NULL THEN coalesce(finished_at, now()) ELSE finished_at END
     WHERE id = $1`,
    [
      id,
      change.stage ?? null,
      change.oldCa ?? null,
      change.newCa ?? null,
      change.progress ? JSON.stringify(change.progress) : null,
      change.message !== undefined,
      change.message ?? null,
      change.state ?? null,
    ],
  );
}
