// The audit trail's API side: every request runs in an acting scope (its transactions tell the audit
// triggers who acts), and every successful write is recorded once, after its answer was sent. The entry
// names the caller as its credentials identify it (an admin token's name, a certificate's subject, a
// one-time token's holder), never by a secret: no body, no header, no token goes into it.
import type { Request, RequestHandler } from 'express';
import type pg from 'pg';
import { actingAs, type Actor } from '../db/acting.js';
import { recordAudit } from '../db/audit.js';
import type { Logger } from '../lib/logger.js';
import type { Answered, Reply, Route } from './route.js';

/** Whose credentials a request carries, with their tenant; undefined before (or without) authentication. */
export function actorOf(req: Request): (Actor & { tenantId: string; detail?: Record<string, unknown> }) | undefined {
  if (req.tenant && req.adminTokenName !== undefined) return { tenantId: req.tenant.id, kind: 'admin', name: `admin:${req.adminTokenName}` };
  // `req.client` is also Node's (deprecated) alias of the socket: only a verified certificate sets `tenantId`.
  if (req.client?.tenantId) return { tenantId: req.client.tenantId, kind: req.client.kind, name: `${req.client.kind}:${req.client.id}`, detail: { serial: req.client.serial } };
  if (req.tokenHolder) return { tenantId: req.tokenHolder.tenantId, kind: req.tokenHolder.kind, name: `connector-token:${req.tokenHolder.id}` };
  return undefined;
}

/** Runs the rest of the request in an acting scope: its transactions carry its actor and request id. */
export const actingScope: RequestHandler = (req, _res, next) => actingAs({ requestId: req.id, actor: () => actorOf(req) }, next);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The id (or, for a scenario, the name) of what a POST created, when its answer says. */
function createdKey(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { id, name, runtime, assignment } = body as Record<string, unknown>;
  for (const candidate of [id, (runtime as { id?: unknown } | undefined)?.id, (assignment as { id?: unknown } | undefined)?.id]) {
    if (typeof candidate === 'string' && UUID.test(candidate)) return candidate;
  }
  return id === undefined && typeof name === 'string' ? name : undefined;
}

/**
 * What a request changed, as a path with its ids: the route's path with the request's parameters, and
 * for a creation the created object (its `Location`, unless that is the operation, or its id).
 */
export function resourceOf(route: Route, req: Request, reply: Reply): string {
  const path = route.path.replace(/\{(\w+)\}/g, (_match, name: string) => String(req.params[name] ?? name));
  if (route.method !== 'post' || (reply.status !== 201 && reply.status !== 202)) return path;
  const location = reply.headers?.location;
  if (location?.startsWith('/v1/') && !location.startsWith('/v1/operations/')) return location;
  const key = createdKey(reply.body);
  return key === undefined ? path : `${path}/${key}`;
}

/** Whether an answer is a state change the trail records: a write (or a GET that redeems a token) that succeeded. */
const changes = (route: Route, reply: Reply) => (route.method !== 'get' || route.audited === true) && reply.status < 400;

/**
 * Records each successful write, best effort: after the answer was sent, so the request neither waits for
 * nor fails with it. A write that fails is logged (without the entry's values beyond its action and
 * resource) and lost; so is an entry whose process dies between answer and write.
 */
export function recordAnswers(pool: pg.Pool, logger: Logger): Answered {
  return (route, req, reply) => {
    try {
      if (!changes(route, reply)) return;
      const actor = actorOf(req);
      if (!actor) return;
      const entry = {
        tenantId: actor.tenantId,
        actor: actor.name,
        actorKind: actor.kind,
        action: route.operationId,
        resource: resourceOf(route, req, reply),
        requestId: req.id,
        status: reply.status,
        detail: actor.detail,
      };
      recordAudit(pool, entry).catch((error: Error) =>
        (req.log ?? logger).warn({ err: error.message, action: entry.action, resource: entry.resource }, 'audit entry not recorded'),
      );
    } catch (error) {
      (req.log ?? logger).warn({ err: (error as Error).message, action: route.operationId }, 'audit entry not recorded');
    }
  };
}
