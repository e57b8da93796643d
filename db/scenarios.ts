import type pg from 'pg';
import type { Page } from './page.js';
import { InvalidCursor } from './objects.js';
import type { Db } from './tx.js';

export const SCENARIO_NAME = /^[A-Za-z0-9]([-_A-Za-z0-9 ]*[A-Za-z0-9])?$/;

export interface ScenarioRow {
  name: string;
  created_at: Date;
  /** Its automatic assignments, oldest first (lists only). */
  assignments?: Array<{ id: string; key: string; value: unknown; created_at: string }>;
}

/** Scenarios of a tenant ordered by name; the cursor is the last name seen. */
export async function listScenarios(pool: pg.Pool, tenantId: string, limit: number, cursor?: string): Promise<Page<ScenarioRow>> {
  let after: string | undefined;
  if (cursor !== undefined) {
    after = Buffer.from(cursor, 'base64url').toString('utf8');
    if (!SCENARIO_NAME.test(after)) throw new InvalidCursor('cursor: is not a cursor this server issued');
  }
  const { rows } = await pool.query<ScenarioRow>(
    `SELECT s.name, s.created_at,
       COALESCE((SELECT json_agg(json_build_object('id', a.id, 'key', a.key, 'value', a.value, 'created_at', a.created_at) ORDER BY a.created_at, a.id)
                 FROM scenario_assignments a WHERE a.tenant_id = s.tenant_id AND a.scenario = s.name), '[]') AS assignments
     FROM scenarios s WHERE s.tenant_id = $1 AND ($2::text IS NULL OR s.name > $2) ORDER BY s.name LIMIT $3`,
    [tenantId, after ?? null, limit + 1],
  );
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? Buffer.from(last.name).toString('base64url') : null };
}

/** Who still uses a scenario, by kind and name, so a refusal to delete it can name them. */
export async function scenarioUsers(pool: pg.Pool, tenantId: string, name: string): Promise<string[]> {
  const { rows } = await pool.query<{ user: string }>(
    `SELECT 'application ' || a.name AS user FROM application_scenarios m JOIN applications a ON a.id = m.application_id
      WHERE m.tenant_id = $1 AND m.scenario = $2
     UNION ALL
     SELECT 'runtime ' || r.name FROM runtime_scenarios m JOIN runtimes r ON r.id = m.runtime_id
      WHERE m.tenant_id = $1 AND m.scenario = $2
     UNION ALL
     SELECT 'its assignment ' || a.key || '=' || a.value::text FROM scenario_assignments a
      WHERE a.tenant_id = $1 AND a.scenario = $2
     ORDER BY 1 LIMIT 20`,
    [tenantId, name],
  );
  return rows.map((r) => r.user);
}

/** Creates a scenario of the tenant; PostgreSQL's errors (a unique violation for a taken name) propagate unchanged. */
export async function createScenario(db: Db, tenantId: string, name: string): Promise<ScenarioRow> {
  const { rows } = await db.query<ScenarioRow>('INSERT INTO scenarios (tenant_id, name) VALUES ($1, $2) RETURNING name, created_at', [tenantId, name]);
  return rows[0]!;
}

/** Deletes a scenario of the tenant; false when there is none. A foreign-key violation (still in use) propagates unchanged. */
export async function deleteScenario(db: Db, tenantId: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM scenarios WHERE tenant_id = $1 AND name = $2', [tenantId, name]);
  return !!rowCount;
}

/** Applications of the runtime's tenant that share at least one scenario with it. */
export async function applicationsSharingRuntime(db: Db, runtimeId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT DISTINCT a.application_id AS id FROM runtime_scenarios r
     JOIN application_scenarios a ON a.tenant_id = r.tenant_id AND a.scenario = r.scenario
     WHERE r.runtime_id = $1 ORDER BY 1`,
    [runtimeId],
  );
  return rows.map((r) => r.id);
}
