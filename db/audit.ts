// The audit trail (db/migrations/017_audit.sql): entries written, read by administrators, and removed
// after their retention. Entries are never changed; the table refuses it.
import type { ActorKind } from './acting.js';
import { InvalidCursor } from './objects.js';
import { decodeCursor, encodeCursor, type Page } from './page.js';
import type { Db } from './tx.js';

export interface AuditRow {
  id: string;
  tenant_id: string;
  at: Date;
  actor: string;
  actor_kind: ActorKind;
  action: string;
  resource: string;
  request_id: string | null;
  status: number | null;
  detail: Record<string, unknown> | null;
}

export interface NewAuditEntry {
  tenantId: string;
  actor: string;
  actorKind: ActorKind;
  action: string;
  resource: string;
  requestId?: string;
  status?: number;
  /** What else identifies the change; never a secret. */
  detail?: Record<string, unknown>;
}

/** Longest actor, action and resource stored (the table's limits); longer ones are cut. */
const LIMITS = { actor: 300, action: 100, resource: 1024 };

/** Appends one entry, at the database's clock. */
export async function recordAudit(db: Db, entry: NewAuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (tenant_id, actor, actor_kind, action, resource, request_id, status, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      entry.tenantId,
      entry.actor.slice(0, LIMITS.actor),
      entry.actorKind,
      entry.action.slice(0, LIMITS.action),
      entry.resource.slice(0, LIMITS.resource),
      entry.requestId ?? null,
      entry.status ?? null,
      entry.detail ? JSON.stringify(entry.detail) : null,
    ],
  );
}

export interface AuditFilter {
  limit: number;
  cursor?: string;
  /** From this time on (inclusive). */
  since?: Date;
  /** Before this time (exclusive). */
  until?: Date;
  /** Exactly this actor. */
  actor?: string;
  actorKind?: ActorKind;
  /** This resource and everything under it (`/v1/runtimes/<id>` takes `/v1/runtimes/<id>/labels/env` too). */
  resource?: string;
  /** Exactly this action. */
  action?: string;
}

/** `resource` as a LIKE pattern for what lies under it: its own `%`, `_` and `\` taken literally. */
const under = (resource: string) => `${resource.replace(/\/+$/, '').replace(/[\\%_]/g, '\\$&')}/%`;

/** A page of the tenant's entries, newest first (index `audit_log_by_tenant`, or `…_by_actor` for one actor). */
export async function listAudit(db: Db, tenantId: string, filter: AuditFilter): Promise<Page<AuditRow>> {
  const params: unknown[] = [
    tenantId,
    filter.since ?? null,
    filter.until ?? null,
    filter.actor ?? null,
    filter.actorKind ?? null,
    filter.resource ?? null,
    filter.resource === undefined ? null : under(filter.resource),
    filter.action ?? null,
  ];
  let after = '';
  if (filter.cursor !== undefined) {
    const cursor = decodeCursor(filter.cursor);
    if (!cursor) throw new InvalidCursor('cursor: is not a cursor this server issued');
    params.push(cursor.createdAt, cursor.id);
    after = `AND (at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
  }
  params.push(filter.limit + 1);
  const { rows } = await db.query<AuditRow & { cursor_at: string }>(
    `SELECT *, at::text AS cursor_at FROM audit_log
     WHERE tenant_id = $1
       AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3)
       AND ($4::text IS NULL OR actor = $4) AND ($5::text IS NULL OR actor_kind = $5)
       AND ($6::text IS NULL OR resource = $6 OR resource LIKE $7)
       AND ($8::text IS NULL OR action = $8) ${after}
     ORDER BY at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const items = rows.slice(0, filter.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor({ createdAt: last.cursor_at, id: last.id }) : null };
}

/**
 * Removes entries older than `retentionDays` (of `tenantIds` when given), oldest first, at most `limit`;
 * returns how many. The only deletion the table allows besides its tenant's.
 */
export async function pruneAudit(db: Db, options: { retentionDays: number; tenantIds?: string[]; limit: number }): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM audit_log WHERE id IN (
       SELECT id FROM audit_log
        WHERE at < now() - make_interval(days => $1) AND ($2::uuid[] IS NULL OR tenant_id = ANY($2::uuid[]))
        ORDER BY at LIMIT $3)`,
    [options.retentionDays, options.tenantIds ?? null, options.limit],
  );
  return rowCount ?? 0;
}
