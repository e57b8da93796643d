// Automatic scenario assignment: "runtimes whose label `key` equals `value` join `scenario`". A runtime's
// membership remembers its reasons (by hand, by assignment); the assignment's reason is kept in step
// with labels here, inside the transaction that changes them, so the membership triggers (configVersion,
// credential slots, hints) fire exactly as for a change by hand.
import type { Db } from './tx.js';

export interface AssignmentRow {
  id: string;
  tenant_id: string;
  scenario: string;
  key: string;
  value: unknown;
  created_at: Date;
}

/** The scenario's id (locked against a concurrent change of its assignments when `lock`); undefined when it does not exist. */
export async function scenarioIdOf(db: Db, tenantId: string, scenario: string, lock = false): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM scenarios WHERE tenant_id = $1 AND name = $2${lock ? ' FOR UPDATE' : ''}`, [tenantId, scenario]);
  return rows[0]?.id;
}

/**
 * Orders the creation of runtimes (`shared`) against changes of the tenant's assignments (`exclusive`)
 * until the transaction ends. A pass walks runtimes in id order and cannot see one whose creation has
 * not committed: without this, a runtime created while an assignment changes could be synced with the
 * old assignments and committed behind the pass.
 */
export async function lockAssignments(db: Db, tenantId: string, mode: 'shared' | 'exclusive'): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock${mode === 'shared' ? '_shared' : ''}(hashtextextended('scenario-assignments:' || $1, 0))`, [tenantId]);
}

/** The scenario's assignments, oldest first. */
export async function assignmentsOf(db: Db, tenantId: string, scenario: string): Promise<AssignmentRow[]> {
  const { rows } = await db.query<AssignmentRow>('SELECT * FROM scenario_assignments WHERE tenant_id = $1 AND scenario = $2 ORDER BY created_at, id', [tenantId, scenario]);
  return rows;
}

/** Records an assignment of the scenario; a unique violation (the same selector) propagates unchanged. */
export async function insertAssignment(db: Db, tenantId: string, scenario: string, key: string, value: unknown): Promise<AssignmentRow> {
  const { rows } = await db.query<AssignmentRow>('INSERT INTO scenario_assignments (tenant_id, scenario, key, value) VALUES ($1, $2, $3, $4::jsonb) RETURNING *', [
    tenantId,
    scenario,
    key,
    JSON.stringify(value),
  ]);
  return rows[0]!;
}

/** Removes one assignment of the scenario, or all of them without `id`; how many were removed. */
export async function deleteAssignments(db: Db, tenantId: string, scenario: string, id?: string): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM scenario_assignments WHERE tenant_id = $1 AND scenario = $2 AND ($3::uuid IS NULL OR id = $3)', [tenantId, scenario, id ?? null]);
  return rowCount ?? 0;
}

/** Pairs (runtime, scenario) the assignments want among `runtimeIds` ($1), of one scenario ($2) or all, in tenant $3. */
const WANTED = `wanted AS (
  SELECT DISTINCT l.runtime_id, a.scenario FROM runtime_labels l
  JOIN runtimes r ON r.id = l.runtime_id
  JOIN scenario_assignments a ON a.tenant_id = r.tenant_id AND a.key = l.key AND a.value = l.value
  WHERE l.runtime_id = ANY($1::uuid[]) AND r.tenant_id = $3 AND ($2::text IS NULL OR a.scenario = $2))`;

/** Runtimes that joined or left scenarios through assignments. */
export interface AssignmentChanges {
  joined: number;
  left: number;
}

/**
 * Brings the assignment reason of these runtimes' memberships in line with their labels, for one
 * scenario or all: a runtime whose label matches joins (or its membership by hand gains the reason), one
 * whose label no longer matches loses the reason and leaves unless it is also a member by hand. Call it
 * in the transaction that changed the labels or the assignment, with the runtimes locked.
 */
export async function syncAssignedScenarios(db: Db, tenantId: string, runtimeIds: string[], scenario?: string): Promise<AssignmentChanges> {
  if (runtimeIds.length === 0) return { joined: 0, left: 0 };
  const params = [runtimeIds, scenario ?? null, tenantId];
  const joined = await db.query<{ inserted: boolean }>(
    `WITH ${WANTED}
     INSERT INTO runtime_scenarios (tenant_id, runtime_id, scenario, by_hand, by_assignment)
     SELECT $3, runtime_id, scenario, false, true FROM wanted
     ON CONFLICT (runtime_id, scenario) DO UPDATE SET by_assignment = true WHERE NOT runtime_scenarios.by_assignment
     RETURNING xmax = 0 AS inserted`,
    params,
  );
  const stale = `m.runtime_id = ANY($1::uuid[]) AND m.tenant_id = $3 AND m.by_assignment AND ($2::text IS NULL OR m.scenario = $2)
    AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.runtime_id = m.runtime_id AND w.scenario = m.scenario)`;
  const left = await db.query(`WITH ${WANTED} DELETE FROM runtime_scenarios m WHERE ${stale} AND NOT m.by_hand`, params);
  await db.query(`WITH ${WANTED} UPDATE runtime_scenarios m SET by_assignment = false WHERE ${stale} AND m.by_hand`, params);
  return { joined: joined.rows.filter((r) => r.inserted).length, left: left.rowCount ?? 0 };
}

/** One batch of a scenario's assignment pass: where it ended, and what it did. */
export interface AssignmentBatch extends AssignmentChanges {
  /** The last runtime id examined; null when no runtime was left after `after`. */
  last: string | null;
  examined: number;
  /** Runtimes of the tenant now (the pass's denominator). */
  total: number;
}

/**
 * Examines the tenant's next `limit` runtimes after `after` (by id), locked, and syncs their membership
 * of `scenario` with its assignments (or their absence). Call it in a transaction.
 */
export async function assignmentBatch(db: Db, tenantId: string, scenario: string, after: string | null, limit: number): Promise<AssignmentBatch> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM runtimes WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3 FOR NO KEY UPDATE`,
    [tenantId, after, limit],
  );
  const ids = rows.map((r) => r.id);
  const changes = await syncAssignedScenarios(db, tenantId, ids, scenario);
  const { rows: count } = await db.query<{ total: string }>('SELECT count(*) AS total FROM runtimes WHERE tenant_id = $1', [tenantId]);
  return { ...changes, last: ids[ids.length - 1] ?? null, examined: ids.length, total: Number(count[0]!.total) };
}
