// Credential slots of the calling application's APIs: one per (API, runtime) pair of a shared scenario.
import type pg from 'pg';
import { z } from 'zod';
import { SLOT_STATUSES, listSlots, setCredentials, slotBinding, type SlotRow } from '../../../db/credentials.js';
import { getDefinition } from '../../../db/definitions.js';
import type { Db } from '../../../db/tx.js';
import { seal, type Keyring } from '../../../trust/encryption.js';
import { badRequest, notFound } from '../../problems.js';
import { route, type Route } from '../../route.js';
import { HttpUrl, Id, PageQuery, Timestamp } from '../../schemas.js';

const text = (max: number) => z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
/** An HTTP field name (RFC 9110 token); hop-by-hop and framing headers are the gateway's. */
const HeaderName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, 'must be an HTTP header name')
  .refine((name) => !['host', 'content-length', 'transfer-encoding', 'connection', 'authorization'].includes(name.toLowerCase()), 'is set by the gateway');
const HeaderValue = z.string({ error: 'must be a string' }).max(4096, 'must be at most 4096 characters').regex(/^[\t\x20-\x7e\x80-\uffff]*$/, 'must not contain control characters');

/** Exactly one of basic, oauth (client credentials) and bearer, with optional extra headers and query parameters. */
export const CredentialsBody = z
  .strictObject({
    basic: z.strictObject({ username: text(256), password: text(1024) }).optional(),
    oauth: z.strictObject({ clientId: text(256), clientSecret: text(1024), tokenUrl: HttpUrl }).optional(),
    bearer: z.strictObject({ token: text(4096) }).optional(),
    headers: z.record(HeaderName, HeaderValue, { error: 'must be an object of header values' }).refine((h) => Object.keys(h).length <= 32, 'must have at most 32 headers').optional(),
    queryParams: z.record(text(128), HeaderValue, { error: 'must be an object of parameter values' }).refine((q) => Object.keys(q).length <= 32, 'must have at most 32 parameters').optional(),
  })
  .refine((c) => [c.basic, c.oauth, c.bearer].filter(Boolean).length === 1, { message: 'give exactly one of basic, oauth and bearer', path: ['basic'] });

export const CredentialSlot = z.object({
  apiId: z.uuid(),
  apiName: z.string().nullable(),
  runtimeId: z.uuid(),
  runtimeName: z.string().nullable(),
  status: z.enum(SLOT_STATUSES),
  updatedAt: Timestamp,
});

const toSlot = (row: SlotRow): z.infer<typeof CredentialSlot> => ({
  apiId: row.api_id,
  apiName: row.api_name,
  runtimeId: row.runtime_id,
  runtimeName: row.runtime_name,
  status: row.status,
  updatedAt: row.updated_at.toISOString(),
});

const SlotCursor = z.tuple([z.uuid(), z.uuid()]);
const encodeSlotCursor = (row: SlotRow) => Buffer.from(JSON.stringify([row.api_id, row.runtime_id])).toString('base64url');
const decodeSlotCursor = (cursor: string) => {
  try {
    const [apiId, runtimeId] = SlotCursor.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { apiId, runtimeId };
  } catch {
    throw badRequest('cursor: is not a cursor this server issued', [{ path: 'cursor', message: 'is not a cursor this server issued' }]);
  }
};

/** The query of a page of an application's slots: `limit`, `cursor`, `status`. */
export const SlotPageQuery = z.strictObject({ ...PageQuery, status: z.enum(SLOT_STATUSES, { error: `must be one of ${SLOT_STATUSES.join(', ')}` }).optional() });
export const SlotPage = z.object({ items: z.array(CredentialSlot), nextCursor: z.string().nullable() });

/** A page of the application's slots, as the application itself and its administrators read them. */
export async function slotPage(db: Db, applicationId: string, query: z.infer<typeof SlotPageQuery>): Promise<z.infer<typeof SlotPage>> {
  const after = query.cursor === undefined ? undefined : decodeSlotCursor(query.cursor);
  const rows = await listSlots(db, applicationId, { status: query.status, limit: query.limit + 1, after });
  const items = rows.slice(0, query.limit);
  return { items: items.map(toSlot), nextCursor: rows.length > query.limit ? encodeSlotCursor(items.at(-1)!) : null };
}

export interface CredentialRouteDeps {
  pool: pg.Pool;
  keyring: Keyring;
}

/** The caller's credential slots: list, set, clear (mTLS, application certificates). */
export function credentialRoutes({ pool, keyring }: CredentialRouteDeps): Route[] {
  const slotParams = z.strictObject({ apiId: Id, runtimeId: Id });
  const unknownSlot = async (applicationId: string, apiId: string) =>
    (await getDefinition(pool, { applicationId, kind: 'API' }, apiId)) ? notFound('no such runtime sharing a scenario with this application') : notFound('no such API');

  return [
    route({
      method: 'get',
      path: '/v1/application/credentials',
      operationId: 'list-credential-slots',
      summary: "The caller's credential slots, one per (API, runtime) pair of a shared scenario; never the secret values",
      tag: 'application',
      auth: 'application',
      query: SlotPageQuery,
      responses: { 200: { description: 'A page of slots', schema: SlotPage } },
      handle: async ({ req, query }) => ({ status: 200, body: await slotPage(pool, req.client!.id, query) }),
    }),
    route({
      method: 'put',
      path: '/v1/application/apis/{apiId}/credentials/{runtimeId}',
      operationId: 'set-credentials',
      summary: 'Set the credentials a runtime uses to call one of the caller’s APIs; the runtime gets them with its next configuration (hinted at once)',
      tag: 'application',
      auth: 'application',
      params: slotParams,
      body: CredentialsBody,
      responses: { 200: { description: 'The slot, now SUCCEEDED', schema: CredentialSlot } },
      handle: async ({ req, params, body }) => {
        const { tenantId, id: applicationId } = req.client!;
        const sealed = seal(keyring, JSON.stringify(body), slotBinding(tenantId, params.apiId, params.runtimeId));
        const row = await setCredentials(pool, { tenantId, applicationId }, params.apiId, params.runtimeId, sealed);
        if (!row) throw await unknownSlot(req.client!.id, params.apiId);
        return { status: 200, body: toSlot(row) };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/application/apis/{apiId}/credentials/{runtimeId}',
      operationId: 'clear-credentials',
      summary: 'Clear the credentials of a slot (back to PENDING); the runtime drops them with its next configuration',
      tag: 'application',
      auth: 'application',
      params: slotParams,
      responses: { 204: { description: 'Cleared' } },
      handle: async ({ req, params }) => {
        const row = await setCredentials(pool, { tenantId: req.client!.tenantId, applicationId: req.client!.id }, params.apiId, params.runtimeId, null);
        if (!row) throw await unknownSlot(req.client!.id, params.apiId);
        return { status: 204 };
      },
    }),
  ];
}
