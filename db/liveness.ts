// Honest liveness (docs/architecture.md, "When a runtime last called"): CONNECTED runtimes that stopped
// calling become UNREACHABLE, and CONNECTED again when they call. Each change is one conditional
// statement that also counts the transition in the runtime's row and records it for announcing
// (`runtime_liveness_events`, the outbox), so of several API processes and reconciler rounds exactly one
// makes each transition, and none is lost between the change and its announcement.
import type { Db } from './tx.js';

export interface UnreachableRule {
  /** Poll intervals a runtime may miss (MERIDIAN_UNREACHABLE_AFTER_INTERVALS). */
  afterIntervals: number;
  /** How late an API process may record a call (its last-seen flush interval), added to the missed intervals. */
  lagSeconds: number;
  /** Only runtimes of these tenants (scoped reconcilers in tests); every tenant when not given. */
  tenantIds?: string[];
  /** Runtimes marked at most per call; the rest in the next. */
  limit: number;
}

/**
 * Marks UNREACHABLE, in one statement, the CONNECTED runtimes whose last call (or, never seen, their
 * becoming CONNECTED) is more than `afterIntervals` of their poll intervals plus `lagSeconds` ago; the
 * condition message says since when. Calls count only while they were being recorded: not before
 * `runtime_call_recording.since`, and nothing is marked unless an API process flushed within three times
 * `lagSeconds` (the plane itself was not listening). Rows locked by another transaction are left for the
 * next call. Each transition is recorded for announcing; returns the runtimes marked.
 */
export async function markUnreachable(db: Db, rule: UnreachableRule): Promise<Array<{ id: string; tenantId: string }>> {
  const { rows } = await db.query<{ runtime_id: string; tenant_id: string }>(
    `WITH recording AS (
       SELECT since FROM runtime_call_recording WHERE flushed_at > now() - make_interval(secs => 3 * $2::double precision)
     ), due AS (
       SELECT r.id, GREATEST(s.seen_at, r.condition_updated_at) AS last_call
         FROM runtimes r LEFT JOIN runtime_last_seen s ON s.runtime_id = r.id CROSS JOIN recording
        WHERE r.condition = 'CONNECTED' AND ($3::uuid[] IS NULL OR r.tenant_id = ANY($3))
          AND GREATEST(s.seen_at, r.condition_updated_at, recording.since)
              < now() - make_interval(secs => $1::int * r.poll_interval_seconds + $2::double precision)
        ORDER BY r.id LIMIT $4
          FOR NO KEY UPDATE OF r SKIP LOCKED
     ), marked AS (
       UPDATE runtimes r
          SET condition = 'UNREACHABLE', condition_updated_at = now(), updated_at = now(),
              condition_message = format('no call since %s: missed %s poll intervals of %s s',
                to_char(due.last_call AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), $1::int, r.poll_interval_seconds),
              liveness_transitions = r.liveness_transitions + 1
         FROM due
        WHERE r.id = due.id AND r.condition = 'CONNECTED'
       RETURNING r.id, r.tenant_id, r.liveness_transitions
     )
     INSERT INTO runtime_liveness_events (runtime_id, transition, tenant_id, type, occurred_at)
     SELECT id, liveness_transitions, tenant_id, 'runtime.unreachable', now() FROM marked
     RETURNING runtime_id, tenant_id`,
    [rule.afterIntervals, rule.lagSeconds, rule.tenantIds ?? null, rule.limit],
  );
  return rows.map((row) => ({ id: row.runtime_id, tenantId: row.tenant_id }));
}

/**
 * An UNREACHABLE runtime called: it is CONNECTED again, and the transition is recorded for announcing.
 * False when it was not UNREACHABLE (any more: of several calls at once, one makes the transition).
 */
export async function markReachable(db: Db, runtimeId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `WITH marked AS (
       UPDATE runtimes SET condition = 'CONNECTED', condition_message = NULL, condition_updated_at = now(), updated_at = now(),
              liveness_transitions = liveness_transitions + 1
        WHERE id = $1 AND condition = 'UNREACHABLE'
       RETURNING id, tenant_id, liveness_transitions
     )
     INSERT INTO runtime_liveness_events (runtime_id, transition, tenant_id, type, occurred_at)
     SELECT id, liveness_transitions, tenant_id, 'runtime.reachable', now() FROM marked`,
    [runtimeId],
  );
  return !!rowCount;
}

/** A liveness transition applications were not told of yet, with what its event says of the runtime now. */
export interface LivenessEvent {
  runtimeId: string;
  tenantId: string;
  /** The runtime's transition number: part of the event id. */
  transition: number;
  type: 'runtime.unreachable' | 'runtime.reachable';
  occurredAt: Date;
  name: string;
  eventUrl: string | null;
  configVersion: number;
}

/** Transitions not announced yet, of these tenants or runtimes when given, oldest first. */
export async function unannouncedTransitions(db: Db, scope: { tenantIds?: string[]; runtimeIds?: string[]; limit: number }): Promise<LivenessEvent[]> {
  const { rows } = await db.query<{
    runtime_id: string;
    tenant_id: string;
    transition: number;
    type: LivenessEvent['type'];
    occurred_at: Date;
    name: string;
    event_url: string | null;
    config_version: string;
  }>(
    `SELECT e.runtime_id, e.tenant_id, e.transition, e.type, e.occurred_at, r.name, r.event_url, r.config_version
       FROM runtime_liveness_events e JOIN runtimes r ON r.id = e.runtime_id
      WHERE ($1::uuid[] IS NULL OR e.tenant_id = ANY($1)) AND ($2::uuid[] IS NULL OR e.runtime_id = ANY($2))
      ORDER BY e.occurred_at, e.transition LIMIT $3`,
    [scope.tenantIds ?? null, scope.runtimeIds ?? null, scope.limit],
  );
  return rows.map((row) => ({
    runtimeId: row.runtime_id,
    tenantId: row.tenant_id,
    transition: row.transition,
    type: row.type,
    occurredAt: row.occurred_at,
    name: row.name,
    eventUrl: row.event_url,
    configVersion: Number(row.config_version),
  }));
}

/** The transition was announced (its fan-out started): it leaves the outbox. */
export async function markAnnounced(db: Db, runtimeId: string, transition: number): Promise<void> {
  await db.query('DELETE FROM runtime_liveness_events WHERE runtime_id = $1 AND transition = $2', [runtimeId, transition]);
}
