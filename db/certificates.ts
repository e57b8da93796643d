import type { IssuedCertificate } from '../trust/ca.js';
import { OBJECT_TABLES, type ObjectKind } from './objects.js';
import type { Db } from './tx.js';

/** The application or runtime a certificate is issued to. */
export interface CertificateHolder {
  tenantId: string;
  objectKind: ObjectKind;
  objectId: string;
}

export interface CertificateOwner extends CertificateHolder {
  subject: string;
  /** Fingerprint of the CA that signed it. */
  issuer?: string;
}

/** What a revocation read or a listing counts as in force: revoked now, not merely scheduled. */
const REVOKED = 'revoked_at IS NOT NULL AND revoked_at <= now()';
/**
 * A certificate that still works: unexpired and not revoked yet (the one a renewal replaced works until its
 * scheduled revocation). `alias` qualifies the columns.
 */
export const WORKING = (alias?: string) => {
  const c = alias ? `${alias}.` : '';
  return `${c}not_after > now() AND (${c}revoked_at IS NULL OR ${c}revoked_at > now())`;
};

/** Neither revoked nor scheduled for revocation, and not expired. */
const LIVE = 'revoked_at IS NULL AND not_after > now()';

/**
 * Records an issued certificate of an application or runtime, so that it can be listed and revoked.
 * With an `issuanceKey` that another certificate holds already, records nothing and returns false.
 */
export async function recordCertificate(db: Db, owner: CertificateOwner, cert: IssuedCertificate, issuanceKey?: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO certificates (serial, tenant_id, object_kind, object_id, subject, fingerprint, not_before, not_after, pem, issuance_key, issuer)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (issuance_key) DO NOTHING`,
    [cert.serial, owner.tenantId, owner.objectKind, owner.objectId, owner.subject, cert.fingerprint, cert.notBefore, cert.notAfter, cert.pem, issuanceKey ?? null, owner.issuer ?? null],
  );
  return rowCount === 1;
}

/** The certificate issued under `issuanceKey`, if any (revoked ones included: the request was answered). */
export async function certificateIssuedFor(db: Db, issuanceKey: string): Promise<Pick<IssuedCertificate, 'pem' | 'serial' | 'notAfter'> | undefined> {
  const { rows } = await db.query<{ pem: string; serial: string; notAfter: Date }>(
    'SELECT pem, serial, not_after AS "notAfter" FROM certificates WHERE issuance_key = $1',
    [issuanceKey],
  );
  return rows[0];
}

/** A certificate request the API accepted: what the issuance activity may sign under its issuance key. */
export interface CertificateRequest extends CertificateHolder {
  issuanceKey: string;
  /** Hex SHA-256 of the CSR's public key (SPKI DER). */
  publicKeySha256: string;
  /** The calling certificate of a renewal, revoked after an overlap once the new one is issued. */
  renewsSerial?: string;
}

/**
 * Authorises the issuance of one certificate under `issuanceKey` for `ttlSeconds`, committed before
 * Temporal is asked. The same request again (a retry) is the same row, its expiry extended; true unless
 * the key already authorises something else (another key pair's CSR under the same CSR token).
 */
export async function authoriseCertificateRequest(db: Db, request: CertificateRequest, ttlSeconds: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO certificate_requests (issuance_key, tenant_id, object_kind, object_id, public_key_sha256, renews_serial, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
     ON CONFLICT (issuance_key) DO UPDATE SET expires_at = GREATEST(certificate_requests.expires_at, EXCLUDED.expires_at)
     WHERE (certificate_requests.tenant_id, certificate_requests.object_kind, certificate_requests.object_id, certificate_requests.public_key_sha256)
       = (EXCLUDED.tenant_id, EXCLUDED.object_kind, EXCLUDED.object_id, EXCLUDED.public_key_sha256)
       AND certificate_requests.renews_serial IS NOT DISTINCT FROM EXCLUDED.renews_serial`,
    [request.issuanceKey, request.tenantId, request.objectKind, request.objectId, request.publicKeySha256, request.renewsSerial ?? null, ttlSeconds],
  );
  return rowCount === 1;
}

/** The unexpired authorisation recorded under `issuanceKey`, if any. */
export async function authorisedRequest(db: Db, issuanceKey: string): Promise<CertificateRequest | undefined> {
  const { rows } = await db.query<CertificateRequest & { renewsSerial: string | null }>(
    `SELECT issuance_key AS "issuanceKey", tenant_id AS "tenantId", object_kind AS "objectKind", object_id AS "objectId",
            public_key_sha256 AS "publicKeySha256", renews_serial AS "renewsSerial"
     FROM certificate_requests WHERE issuance_key = $1 AND expires_at > now()`,
    [issuanceKey],
  );
  const row = rows[0];
  return row && { ...row, renewsSerial: row.renewsSerial ?? undefined };
}

/**
 * Whether the holder exists and is the tenant's. With `lock` (inside a transaction) its row stays locked
 * until the transaction ends, so the holder cannot be deleted, marked for deprovisioning or given another
 * certificate meanwhile; a runtime being deprovisioned counts as gone.
 */
export async function certificateHolderExists(db: Db, holder: CertificateHolder, lock = false): Promise<boolean> {
  const { table } = OBJECT_TABLES[holder.objectKind];
  const { rowCount } = await db.query(
    `SELECT 1 FROM ${table} WHERE tenant_id = $1 AND id = $2 AND condition <> 'DEPROVISIONING'${lock ? ' FOR NO KEY UPDATE' : ''}`,
    [holder.tenantId, holder.objectId],
  );
  return !!rowCount;
}

/** Whether `serial` is one of the holder's certificates, unexpired and not revoked (a scheduled revocation not yet due counts as not revoked). */
export async function certificateInForce(db: Db, holder: CertificateHolder, serial: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `SELECT 1 FROM certificates WHERE tenant_id = $1 AND object_kind = $2 AND object_id = $3 AND serial = $4
       AND not_after > now() AND NOT (${REVOKED})`,
    [holder.tenantId, holder.objectKind, holder.objectId, serial],
  );
  return !!rowCount;
}

/** How many live certificates (neither revoked nor scheduled for revocation, unexpired) the object holds, `except` one. */
export async function liveCertificateCount(db: Db, objectId: string, except?: string): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM certificates WHERE object_id = $1 AND ${LIVE} AND serial IS DISTINCT FROM $2`,
    [objectId, except ?? null],
  );
  return rows[0]!.count;
}

/**
 * Schedules the revocation of one certificate `afterSeconds` from now (a revocation already due
 * earlier stays as it is); false when there was nothing to schedule.
 */
export async function scheduleRevocation(db: Db, serial: string, afterSeconds: number, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE certificates SET revoked_at = now() + make_interval(secs => $2), revocation_reason = $3
     WHERE serial = $1 AND (revoked_at IS NULL OR revoked_at > now() + make_interval(secs => $2))`,
    [serial, afterSeconds, reason],
  );
  return rowCount === 1;
}

/** Revokes one certificate of the tenant now (a scheduled revocation is brought forward); false when it was revoked already or is not the tenant's. */
export async function revokeCertificate(db: Db, tenantId: string, serial: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE certificates SET revoked_at = now(), revocation_reason = $3 WHERE tenant_id = $1 AND serial = $2 AND NOT (${REVOKED})`,
    [tenantId, serial, reason],
  );
  return rowCount === 1;
}

/** What revoking one certificate of a holder came to. */
export type Revocation = 'revoked' | 'already revoked' | 'unknown';

/** Revokes one certificate of the holder now, with the reason (of two concurrent revocations one wins). */
export async function revokeCertificateOf(db: Db, holder: CertificateHolder, serial: string, reason: string): Promise<Revocation> {
  const { rows } = await db.query<{ found: boolean; revoked: boolean }>(
    `WITH target AS (SELECT serial FROM certificates WHERE tenant_id = $1 AND object_kind = $2 AND object_id = $3 AND serial = $4),
     revoked AS (UPDATE certificates c SET revoked_at = now(), revocation_reason = $5 FROM target t WHERE c.serial = t.serial AND NOT (${REVOKED}) RETURNING 1)
     SELECT EXISTS (SELECT 1 FROM target) AS found, EXISTS (SELECT 1 FROM revoked) AS revoked`,
    [holder.tenantId, holder.objectKind, holder.objectId, serial, reason],
  );
  const { found, revoked } = rows[0]!;
  return revoked ? 'revoked' : found ? 'already revoked' : 'unknown';
}

/** Why certificates are revoked when their application or runtime goes. */
export const HOLDER_REMOVED = 'its application or runtime was removed';

/** Revokes every certificate of an application or runtime not yet revoked (all but `except`), now. */
export async function revokeCertificatesOf(db: Db, objectId: string, reason = HOLDER_REMOVED, except?: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE certificates SET revoked_at = now(), revocation_reason = $2 WHERE object_id = $1 AND NOT (${REVOKED}) AND serial IS DISTINCT FROM $3`,
    [objectId, reason, except ?? null],
  );
  return rowCount ?? 0;
}

/** One certificate as the inventory lists it. */
export interface CertificateRow {
  serial: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  revokedAt: Date | null;
  revocationReason: string | null;
}

/** The holder's most recent certificates, newest first. */
export async function listCertificatesOf(db: Db, holder: CertificateHolder, limit: number): Promise<CertificateRow[]> {
  const { rows } = await db.query<CertificateRow>(
    `SELECT serial, fingerprint, not_before AS "notBefore", not_after AS "notAfter", revoked_at AS "revokedAt", revocation_reason AS "revocationReason"
     FROM certificates WHERE tenant_id = $1 AND object_kind = $2 AND object_id = $3
     ORDER BY created_at DESC, not_before DESC, serial LIMIT $4`,
    [holder.tenantId, holder.objectKind, holder.objectId, limit],
  );
  return rows;
}

/**
 * Serials whose revocation took effect at or after `since` (all when omitted), up to the database time of
 * the read, which is returned. A revocation scheduled for later is read once it is due.
 */
export async function revokedSince(db: Db, since?: Date): Promise<{ serials: string[]; now: Date }> {
  const { rows } = await db.query<{ serial: string | null; now: Date }>(
    `SELECT c.serial, n.now FROM (SELECT clock_timestamp() AS now) n
     LEFT JOIN certificates c ON c.revoked_at >= $1 AND c.revoked_at <= n.now AND c.not_after > n.now`,
    [since ?? new Date(0)],
  );
  return { serials: rows.flatMap((r) => (r.serial ? [r.serial] : [])), now: rows[0]!.now };
}
