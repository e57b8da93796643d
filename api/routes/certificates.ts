// Certificates as administrators see and revoke them: the inventory of an application's or runtime's
// client certificates, newest first, and the revocation of one of them.
import type pg from 'pg';
import { z } from 'zod';
import { certificateHolderExists, listCertificatesOf, revokeCertificateOf, type CertificateHolder, type CertificateRow } from '../../db/certificates.js';
import type { ObjectKind } from '../../db/objects.js';
import { normalizeSerial } from '../../trust/ca.js';
import { tenantOf } from '../auth.js';
import type { RevocationList } from '../mtls.js';
import { conflict, notFound } from '../problems.js';
import { noContent, route, type Route } from '../route.js';
import { Id, IdParams, PageQuery, Timestamp } from '../schemas.js';

export const Certificate = z.object({
  serial: z.string().meta({ description: 'Lowercase hex, without leading zeros' }),
  fingerprint: z.string().meta({ description: 'SHA-256 of the DER certificate, lowercase hex' }),
  notBefore: Timestamp,
  notAfter: Timestamp,
  revokedAt: Timestamp.nullable().meta({ description: 'When the revocation takes (or took) effect; a future time is a scheduled revocation' }),
  revocationReason: z.string().nullable(),
});

/** The API object of a certificate row. */
const toCertificate = (row: CertificateRow): z.infer<typeof Certificate> => ({
  serial: row.serial,
  fingerprint: row.fingerprint,
  notBefore: row.notBefore.toISOString(),
  notAfter: row.notAfter.toISOString(),
  revokedAt: row.revokedAt?.toISOString() ?? null,
  revocationReason: row.revocationReason,
});

/** A serial as certificates print it (hex, any case, leading zeros or not), compared as recorded. */
const Serial = z
  .string()
  .regex(/^[0-9a-fA-F]{1,64}$/, 'must be a certificate serial number in hex')
  .transform(normalizeSerial);

const Revocation = z.strictObject({
  reason: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
});

const PATHS = { application: 'applications', runtime: 'runtimes' } as const satisfies Record<ObjectKind, string>;

export interface CertificateInventoryDeps {
  pool: pg.Pool;
  revocations: RevocationList;
}

/** `GET /v1/{applications|runtimes}/{id}/certificates` and `POST …/{serial}/revocation` (admin). */
export function certificateInventoryRoutes({ pool, revocations }: CertificateInventoryDeps): Route[] {
  return (['application', 'runtime'] as const).flatMap((kind) => {
    const path = PATHS[kind];
    const holderOf = async (tenantId: string, objectId: string): Promise<CertificateHolder> => {
      const holder = { tenantId, objectKind: kind, objectId };
      if (!(await certificateHolderExists(pool, holder))) throw notFound(`no such ${kind}`);
      return holder;
    };
    return [
      route({
        method: 'get',
        path: `/v1/${path}/{id}/certificates`,
        operationId: `list-${kind}-certificates`,
        summary: `The ${kind}'s client certificates, newest first, with their revocation`,
        tag: path,
        auth: 'admin',
        params: IdParams,
        query: z.strictObject({ limit: PageQuery.limit }),
        responses: { 200: { description: 'Its most recent certificates', schema: z.object({ items: z.array(Certificate), nextCursor: z.null() }) } },
        handle: async ({ req, params, query }) => {
          const holder = await holderOf(tenantOf(req), params.id);
          return { status: 200, body: { items: (await listCertificatesOf(pool, holder, query.limit)).map(toCertificate), nextCursor: null } };
        },
      }),
      route({
        method: 'post',
        path: `/v1/${path}/{id}/certificates/{serial}/revocation`,
        operationId: `revoke-${kind}-certificate`,
        summary: `Revoke one certificate of the ${kind} at once, with a reason; the mTLS listener refuses it within a second`,
        tag: path,
        auth: 'admin',
        params: z.strictObject({ id: Id, serial: Serial }),
        body: Revocation,
        responses: noContent,
        handle: async ({ req, params, body }) => {
          const holder = await holderOf(tenantOf(req), params.id);
          const outcome = await revokeCertificateOf(pool, holder, params.serial, body.reason);
          if (outcome === 'unknown') throw notFound(`no such certificate of the ${kind}`);
          if (outcome === 'already revoked') throw conflict('the certificate is revoked already');
          // At once on this replica; the others read it within their refresh.
          revocations.add(params.serial);
          return { status: 204 };
        },
      }),
    ];
  });
}
