import type { IssuedCertificate } from '../trust/ca.js';
import type { ObjectKind } from './objects.js';
import type { Db } from './tx.js';

export interface CertificateOwner {
  tenantId: string;
  objectKind: ObjectKind;
  objectId: string;
  subject: string;
}

/**
 * Records an issued certificate of an application or runtime, so that it can be listed and revoked.
 * With an `issuanceKey` that another certificate holds already, records nothing and returns false.
 */
export async function recordCertificate(db: Db, owner: CertificateOwner, cert: IssuedCertificate, issuanceKey?: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO certificates (serial, tenant_id, object_kind, object_id, subject, fingerprint, not_before, not_after, pem, issuance_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (issuance_key) DO NOTHING`,
    [cert.serial, owner.tenantId, owner.objectKind, owner.objectId, owner.subject, cert.fingerprint, cert.notBefore, cert.notAfter, cert.pem, issuanceKey ?? null],
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

/** Revokes one certificate of the tenant; false when it was not live. */
export async function revokeCertificate(db: Db, tenantId: string, serial: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE certificates SET revoked_at = now() WHERE tenant_id = $1 AND serial = $2 AND revoked_at IS NULL', [
    tenantId,
    serial,
  ]);
  return rowCount === 1;
}

/** Revokes every live certificate of an application or runtime. */
export async function revokeCertificatesOf(db: Db, objectId: string): Promise<number> {
  const { rowCount } = await db.query('UPDATE certificates SET revoked_at = now() WHERE object_id = $1 AND revoked_at IS NULL', [objectId]);
  return rowCount ?? 0;
}

/** Serials revoked at or after `since` (all when omitted) and the database time of the read. */
export async function revokedSince(db: Db, since?: Date): Promise<{ serials: string[]; now: Date }> {
  const { rows } = await db.query<{ serial: string | null; now: Date }>(
    `SELECT c.serial, n.now FROM (SELECT clock_timestamp() AS now) n
     LEFT JOIN certificates c ON c.revoked_at IS NOT NULL AND c.revoked_at >= $1 AND c.not_after > now()`,
    [since ?? new Date(0)],
  );
  return { serials: rows.flatMap((r) => (r.serial ? [r.serial] : [])), now: rows[0]!.now };
}
