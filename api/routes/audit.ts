// The audit trail (admin): who changed what in the tenant, when, in which request; newest first.
import type pg from 'pg';
import { z } from 'zod';
import { ACTOR_KINDS } from '../../db/acting.js';
import { listAudit, type AuditRow } from '../../db/audit.js';
import { tenantOf } from '../auth.js';
import { route, type Route } from '../route.js';
import { PageQuery, Timestamp, pageOf } from '../schemas.js';

export const AuditEntry = z.object({
  id: z.uuid(),
  at: Timestamp,
  /** `admin:<token name>`, `application:<id>`, `runtime:<id>`, `connector-token:<id>`, `workflow:<workflow id>`, `operator:<user>` */
  actor: z.string(),
  actorKind: z.enum(ACTOR_KINDS),
  /** The route's operationId (`create-runtime`), `operation-stage|succeeded|failed` for an operation's workflow, … */
  action: z.string(),
  /** What changed, as a path with its ids. */
  resource: z.string(),
  requestId: z.string().optional(),
  /** The HTTP status of the request's answer. */
  status: z.number().int().optional(),
  /** What else identifies the change: an operation's type, stage, state and message, a certificate's serial. */
  detail: z.record(z.string(), z.unknown()).optional(),
});

/** The API object of an audit row. */
export function toAuditEntry(row: AuditRow): z.infer<typeof AuditEntry> {
  return {
    id: row.id,
    at: row.at.toISOString(),
    actor: row.actor,
    actorKind: row.actor_kind,
    action: row.action,
    resource: row.resource,
    ...(row.request_id && { requestId: row.request_id }),
    ...(row.status !== null && { status: row.status }),
    ...(row.detail && { detail: row.detail }),
  };
}

/** A filter's text: printable, as stored entries are. */
const FilterText = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');

const AuditQuery = z.strictObject({
  ...PageQuery,
  since: z.iso
    .datetime({ offset: true, error: 'must be an RFC 3339 date-time' })
    .transform((value) => new Date(value))
    .meta({ description: 'Entries at or after this time' })
    .optional(),
  until: z.iso
    .datetime({ offset: true, error: 'must be an RFC 3339 date-time' })
    .transform((value) => new Date(value))
    .meta({ description: 'Entries before this time' })
    .optional(),
  actor: FilterText(300).meta({ description: 'Exactly this actor, e.g. `admin:ops`, `runtime:<id>`, `workflow:provisioning:<id>`' }).optional(),
  actorKind: z.enum(ACTOR_KINDS, { error: `must be one of ${ACTOR_KINDS.join(', ')}` }).optional(),
  resource: FilterText(1024).meta({ description: 'This resource and what lies under it: `/v1/runtimes/<id>` includes `/v1/runtimes/<id>/labels/env`' }).optional(),
  action: FilterText(100).meta({ description: 'Exactly this action, e.g. `create-runtime`, `operation-failed`' }).optional(),
});

/** `GET /v1/audit` (admin, the token's tenant only). */
export function auditRoutes(pool: pg.Pool): Route[] {
  return [
    route({
      method: 'get',
      path: '/v1/audit',
      operationId: 'list-audit-entries',
      summary: "The tenant's audit trail, newest first: who changed what, when, in which request; filtered by time, actor, resource and action",
      tag: 'audit',
      auth: 'admin',
      query: AuditQuery,
      responses: { 200: { description: 'A page of audit entries', schema: pageOf(AuditEntry) } },
      handle: async ({ req, query }) => {
        const page = await listAudit(pool, tenantOf(req), query);
        return { status: 200, body: { items: page.items.map(toAuditEntry), nextCursor: page.nextCursor } };
      },
    }),
  ];
}
