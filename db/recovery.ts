// Recovery (db/migrations/020_runtime_recovery.sql; docs/architecture.md, "Recovery"): which runtimes and
// applications lost every live certificate, the RECOVERY operations that bring runtimes back, and the
// conditions and messages that say what happened.
import { WORKING } from './certificates.js';
import type { Provider } from './runtimes.js';
import type { Db } from './tx.js';

/**
 * What happened to the newest certificate of an object, in words: `its certificate expired at …` or
 * `its certificate was revoked at … (reason)`. `noun` is what the holder calls it.
 */
const LOST = (noun: string) => `CASE WHEN last.revoked_at IS NOT NULL AND last.revoked_at <= now()
    THEN format('its ${noun} was revoked at %s (%s)', to_char(last.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), coalesce(last.revocation_reason, 'no reason given'))
    ELSE format('its ${noun} expired at %s', to_char(last.not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')) END`;

/** The newest certificate of the object `alias.id`, for {@link LOST}. */
const NEWEST = (alias: string) =>
  `JOIN LATERAL (SELECT c.not_after, c.revoked_at, c.revocation_reason FROM certificates c WHERE c.object_id = ${alias}.id ORDER BY c.created_at DESC, c.not_after DESC LIMIT 1) last ON true`;

/** A runtime that needs recovering, and why. */
export interface RuntimeToRecover {
  id: string;
  tenantId: string;
  name: string;
  provider: Provider;
  /** `its certificate expired at …` / `its certificate was revoked at … (reason)`. */
  reason: string;
}

/**
 * CONNECTED or UNREACHABLE runtimes (of `tenantIds` when given) that hold certificates but none live, and
 * have no operation in progress (a recovery, provisioning or deprovisioning already owns them) nor a
 * recovery that failed within the hour, oldest loss first, at most `limit`. Runtimes provisioning, deprovisioning or FAILED are never recovered.
 */
export async function runtimesToRecover(db: Db, scope: { tenantIds?: string[]; limit: number }): Promise<RuntimeToRecover[]> {
  const { rows } = await db.query<RuntimeToRecover>(
    `SELECT r.id, r.tenant_id AS "tenantId", r.name, r.provider, ${LOST('certificate')} AS reason
       FROM runtimes r ${NEWEST('r')}
      WHERE r.condition IN ('CONNECTED', 'UNREACHABLE') AND ($1::uuid[] IS NULL OR r.tenant_id = ANY($1))
        AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.object_id = r.id AND ${WORKING('c')})
        AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.resource_id = r.id AND o.state = 'IN_PROGRESS')
        -- A recovery that failed is tried again an hour later, not at the next round: its reason stays visible meanwhile.
        AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.resource_id = r.id AND o.type = 'RECOVERY' AND o.state = 'FAILED'
                          AND o.finished_at > now() - interval '1 hour')
      ORDER BY least(last.not_after, coalesce(last.revoked_at, 'infinity')), r.id
      LIMIT $2`,
    [scope.tenantIds ?? null, scope.limit],
  );
  return rows;
}

/** How many recoveries the runtime had so far: the next one is number this + 1 (its workflow id). */
export async function recoveriesOf(db: Db, runtimeId: string): Promise<number> {
  const { rows } = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM operations WHERE resource_id = $1 AND type = 'RECOVERY'`, [runtimeId]);
  return rows[0]!.count;
}

/** The workflow id of the runtime's recovery in progress, if any (at most one: a partial unique index). */
export async function recoveryInProgress(db: Db, runtimeId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ workflow_id: string }>(
    `SELECT workflow_id FROM operations WHERE resource_id = $1 AND type = 'RECOVERY' AND state = 'IN_PROGRESS' AND workflow_id IS NOT NULL`,
    [runtimeId],
  );
  return rows[0]?.workflow_id;
}

/** Where a recovering runtime is, as its recovery workflow sees it. */
export type RecoveryProgress =
  /** CONNECTED again, with a live certificate issued after the recovery started. */
  | { state: 'RECOVERED' }
  | { state: 'WAITING' }
  /** Removed, being deprovisioned, FAILED, or the operation finished elsewhere: nothing to recover any more. */
  | { state: 'GONE'; reason: string };

/**
 * Where the runtime of a recovery stands. With `message`, a runtime still waiting shows it (the liveness
 * sweep may have replaced it with its own when it marked the runtime UNREACHABLE meanwhile).
 */
export async function recoveryProgress(db: Db, input: { runtimeId: string; operationId: string; message?: string }): Promise<RecoveryProgress> {
  const { rows } = await db.query<{ condition: string | null; recovered: boolean; state: string }>(
    `SELECT r.condition, o.state,
            r.condition = 'CONNECTED' AND EXISTS (SELECT 1 FROM certificates c WHERE c.object_id = r.id AND c.created_at >= o.started_at AND ${WORKING('c')}) AS recovered
       FROM operations o LEFT JOIN runtimes r ON r.id = o.resource_id
      WHERE o.id = $2 AND o.resource_id = $1`,
    [input.runtimeId, input.operationId],
  );
  const row = rows[0];
  if (!row) return { state: 'GONE', reason: 'the recovery operation no longer exists' };
  if (row.state !== 'IN_PROGRESS') return { state: 'GONE', reason: `the recovery operation is ${row.state} already` };
  if (row.condition === null) return { state: 'GONE', reason: 'the runtime no longer exists' };
  if (row.recovered) return { state: 'RECOVERED' };
  if (row.condition !== 'CONNECTED' && row.condition !== 'UNREACHABLE') return { state: 'GONE', reason: `the runtime is ${row.condition}` };
  if (input.message !== undefined) await setRecoveryMessage(db, input.runtimeId, input.message);
  return { state: 'WAITING' };
}

/** Shows `message` on a CONNECTED or UNREACHABLE runtime (no write when it shows it already). */
export async function setRecoveryMessage(db: Db, runtimeId: string, message: string): Promise<void> {
  await db.query(
    `UPDATE runtimes SET condition_message = $2, updated_at = now()
      WHERE id = $1 AND condition IN ('CONNECTED', 'UNREACHABLE') AND condition_message IS DISTINCT FROM $2`,
    [runtimeId, message],
  );
}

/**
 * Locks a runtime that can be recovered (CONNECTED or UNREACHABLE) until the transaction ends, so that its
 * deprovisioning waits for the injection being prepared; otherwise says what it is now.
 */
export async function lockRecoverableRuntime(db: Db, runtimeId: string): Promise<{ recoverable: true } | { recoverable: false; reason: string }> {
  const { rows } = await db.query<{ condition: string }>('SELECT condition FROM runtimes WHERE id = $1 FOR NO KEY UPDATE', [runtimeId]);
  const condition = rows[0]?.condition;
  if (condition === 'CONNECTED' || condition === 'UNREACHABLE') return { recoverable: true };
  return { recoverable: false, reason: condition ? `the runtime is ${condition}` : 'the runtime no longer exists' };
}

/** Clears the message of a recovery (it names the operation) from a runtime that is CONNECTED again. */
export async function clearRecoveryMessage(db: Db, runtimeId: string, operationId: string): Promise<void> {
  await db.query(
    `UPDATE runtimes SET condition_message = NULL, updated_at = now()
      WHERE id = $1 AND condition = 'CONNECTED' AND position($2 IN coalesce(condition_message, '')) > 0`,
    [runtimeId, `(operation ${operationId})`],
  );
}

/** An application that lost every live certificate, marked DISCONNECTED. */
export interface DisconnectedApplication {
  id: string;
  tenantId: string;
  name: string;
  message: string;
}

/**
 * Marks DISCONNECTED, in one statement, the CONNECTED applications (of `tenantIds` when given) that hold
 * certificates but none live, with a message saying what happened and the command that pairs the
 * application again (`repair(name)`); at most `limit`, rows locked elsewhere left for the next call. An
 * application unregistered is DELETING or gone, never CONNECTED, so its revocation never marks it.
 */
export async function markApplicationsDisconnected(
  db: Db,
  scope: { tenantIds?: string[]; limit: number; repairCommand: (name: string) => string },
): Promise<DisconnectedApplication[]> {
  const { rows: due } = await db.query<{ id: string; tenantId: string; name: string; lost: string }>(
    `SELECT a.id, a.tenant_id AS "tenantId", a.name, ${LOST('client certificate')} AS lost
       FROM applications a ${NEWEST('a')}
      WHERE a.condition = 'CONNECTED' AND ($1::uuid[] IS NULL OR a.tenant_id = ANY($1))
        AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.object_id = a.id AND ${WORKING('c')})
      ORDER BY a.id LIMIT $2`,
    [scope.tenantIds ?? null, scope.limit],
  );
  if (due.length === 0) return [];
  const messages = due.map((a) => `${a.lost}; pair it again: ${scope.repairCommand(a.name)}`);
  const { rows } = await db.query<{ id: string }>(
    `UPDATE applications a SET condition = 'DISCONNECTED', condition_message = v.message, condition_updated_at = now(), updated_at = now()
       FROM unnest($1::uuid[], $2::text[]) AS v(id, message)
      WHERE a.id = v.id AND a.condition = 'CONNECTED'
        AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.object_id = a.id AND ${WORKING('c')})
     RETURNING a.id`,
    [due.map((a) => a.id), messages],
  );
  const marked = new Set(rows.map((r) => r.id));
  return due.flatMap((a, i) => (marked.has(a.id) ? [{ id: a.id, tenantId: a.tenantId, name: a.name, message: messages[i]! }] : []));
}
