import type pg from 'pg';
import { decodeCursor, encodeCursor, type Page } from './page.js';
import { syncAssignedScenarios } from './scenario-assignments.js';
import { withTransaction, type Db } from './tx.js';

/** Applications and runtimes share labels, scenarios, pagination and filters; this says where each lives. */
export const OBJECT_TABLES = {
  application: { table: 'applications', labels: 'application_labels', memberships: 'application_scenarios', fk: 'application_id', extra: '' },
  runtime: {
    table: 'runtimes',
    labels: 'runtime_labels',
    memberships: 'runtime_scenarios',
    fk: 'runtime_id',
    extra: `, (SELECT s.seen_at FROM runtime_last_seen s WHERE s.runtime_id = t.id) AS last_seen_at,
      COALESCE((SELECT array_agg(m.scenario ORDER BY m.scenario) FROM runtime_scenarios m WHERE m.runtime_id = t.id AND m.by_assignment), '{}') AS assigned_scenarios,
      COALESCE((SELECT array_agg(m.scenario ORDER BY m.scenario) FROM runtime_scenarios m WHERE m.runtime_id = t.id AND m.by_hand), '{}') AS scenarios_by_hand`,
  },
} as const;
/** The two kinds of object that share labels, scenarios and certificates. */
export type ObjectKind = keyof typeof OBJECT_TABLES;

export type Labels = Record<string, unknown>;

/** A row of applications or runtimes with its labels, scenarios and page key. */
export interface Row {
  id: string;
  tenant_id: string;
  name: string;
  description: string;
  condition: string;
  condition_updated_at: Date;
  config_version: string;
  created_at: Date;
  updated_at: Date;
  cursor_at: string;
  labels: Labels;
  scenarios: string[];
  [column: string]: unknown;
}

/** Thrown by repository calls given a cursor Meridian did not issue. */
export class InvalidCursor extends Error {
  override name = 'InvalidCursor';
}

/** Thrown when scenario names do not exist in the tenant; `names` lists them. */
export class UnknownScenarios extends Error {
  override name = 'UnknownScenarios';
  constructor(readonly names: string[]) {
    super(`unknown scenarios: ${names.join(', ')}`);
  }
}

function selectSql(kind: ObjectKind): string {
  const k = OBJECT_TABLES[kind];
  return `SELECT t.*, t.created_at::text AS cursor_at,
    COALESCE((SELECT jsonb_object_agg(l.key, l.value) FROM ${k.labels} l WHERE l.${k.fk} = t.id), '{}'::jsonb) AS labels,
    COALESCE((SELECT array_agg(m.scenario ORDER BY m.scenario) FROM ${k.memberships} m WHERE m.${k.fk} = t.id), '{}') AS scenarios${k.extra}
    FROM ${k.table} t`;
}

/** One application or runtime of the tenant with its labels and scenarios; undefined when it is not the tenant's. */
export async function getRow(db: Db, kind: ObjectKind, tenantId: string, id: string): Promise<Row | undefined> {
  const { rows } = await db.query<Row>(`${selectSql(kind)} WHERE t.tenant_id = $1 AND t.id = $2`, [tenantId, id]);
  return rows[0];
}

export interface ListFilter {
  limit: number;
  cursor?: string;
  scenario?: string;
  /** Label key → value; `undefined` asks only for the key's presence. */
  labels?: Array<{ key: string; value?: unknown }>;
}

/** A page of the tenant's applications or runtimes in creation order, filtered by scenario and labels. */
export async function listRows(db: Db, kind: ObjectKind, tenantId: string, filter: ListFilter): Promise<Page<Row>> {
  const k = OBJECT_TABLES[kind];
  const params: unknown[] = [tenantId];
  const where = ['t.tenant_id = $1'];
  if (filter.cursor !== undefined) {
    const cursor = decodeCursor(filter.cursor);
    if (!cursor) throw new InvalidCursor('cursor: is not a cursor this server issued');
    params.push(cursor.createdAt, cursor.id);
    where.push(`(t.created_at, t.id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  if (filter.scenario !== undefined) {
    params.push(filter.scenario);
    where.push(`EXISTS (SELECT 1 FROM ${k.memberships} m WHERE m.${k.fk} = t.id AND m.scenario = $${params.length})`);
  }
  for (const label of filter.labels ?? []) {
    params.push(label.key);
    const keyParam = `$${params.length}`;
    if (label.value === undefined) {
      where.push(`EXISTS (SELECT 1 FROM ${k.labels} l WHERE l.${k.fk} = t.id AND l.key = ${keyParam})`);
    } else {
      params.push(JSON.stringify(label.value));
      where.push(`EXISTS (SELECT 1 FROM ${k.labels} l WHERE l.${k.fk} = t.id AND l.key = ${keyParam} AND l.value = $${params.length}::jsonb)`);
    }
  }
  params.push(filter.limit + 1);
  const { rows } = await db.query<Row>(
    `${selectSql(kind)} WHERE ${where.join(' AND ')} ORDER BY t.created_at, t.id LIMIT $${params.length}`,
    params,
  );
  const items = rows.slice(0, filter.limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor({ createdAt: last.cursor_at, id: last.id }) : null };
}

/** Replaces the labels of a row (inside the caller's transaction). */
export async function replaceLabels(db: Db, kind: ObjectKind, id: string, labels: Labels): Promise<void> {
  const k = OBJECT_TABLES[kind];
  await db.query(`DELETE FROM ${k.labels} WHERE ${k.fk} = $1`, [id]);
  const entries = Object.entries(labels);
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO ${k.labels} (${k.fk}, key, value)
     SELECT $1, e.key, e.value FROM jsonb_each($2::jsonb) e`,
    [id, JSON.stringify(labels)],
  );
}

/**
 * Sets one label: 'set', 'missing' when the row is not the tenant's, or 'full' when it is a new key and
 * the row has `maxLabels` labels already.
 */
export async function setLabel(
  pool: pg.Pool,
  kind: ObjectKind,
  tenantId: string,
  id: string,
  key: string,
  value: unknown,
  maxLabels: number,
  guard?: (db: Db) => Promise<void>,
): Promise<'set' | 'missing' | 'full'> {
  const k = OBJECT_TABLES[kind];
  return withTransaction(pool, async (client) => {
    await guard?.(client);
    // The row lock orders concurrent sets of one object, so the count cannot be raced past the limit.
    const { rowCount } = await client.query(`SELECT 1 FROM ${k.table} WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenantId, id]);
    if (!rowCount) return 'missing';
    const { rows } = await client.query<{ labels: string; present: boolean }>(
      `SELECT count(*) AS labels, bool_or(key = $2) AS present FROM ${k.labels} WHERE ${k.fk} = $1`,
      [id, key],
    );
    if (!rows[0]?.present && Number(rows[0]?.labels ?? 0) >= maxLabels) return 'full';
    await client.query(
      `INSERT INTO ${k.labels} (${k.fk}, key, value) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (${k.fk}, key) DO UPDATE SET value = EXCLUDED.value`,
      [id, key, JSON.stringify(value)],
    );
    if (kind === 'runtime') await syncAssignedScenarios(client, tenantId, [id]);
    return 'set';
  });
}

/** Removes one label; false when the row is not the tenant's or had no such label. */
export async function deleteLabel(pool: pg.Pool, kind: ObjectKind, tenantId: string, id: string, key: string): Promise<boolean> {
  const k = OBJECT_TABLES[kind];
  return withTransaction(pool, async (client) => {
    const { rowCount } = await client.query(`SELECT 1 FROM ${k.table} WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenantId, id]);
    if (!rowCount) return false;
    const deleted = await client.query(`DELETE FROM ${k.labels} WHERE ${k.fk} = $1 AND key = $2`, [id, key]);
    if (kind === 'runtime') await syncAssignedScenarios(client, tenantId, [id]);
    return deleted.rowCount === 1;
  });
}

/** Replaces a row's scenario set with `names`, every one of which must exist in the tenant. */
export async function replaceScenarios(db: Db, kind: ObjectKind, tenantId: string, id: string, names: string[]): Promise<void> {
  const k = OBJECT_TABLES[kind];
  const wanted = [...new Set(names)];
  const { rows } = await db.query<{ name: string }>('SELECT name FROM scenarios WHERE tenant_id = $1 AND name = ANY($2)', [tenantId, wanted]);
  const known = new Set(rows.map((r) => r.name));
  const unknown = wanted.filter((n) => !known.has(n));
  if (unknown.length > 0) throw new UnknownScenarios(unknown);
  // A runtime's scenarios given by hand are these; one an assignment also gives stays, without the by-hand reason.
  const assigned = kind === 'runtime';
  await db.query(`DELETE FROM ${k.memberships} WHERE ${k.fk} = $1 AND NOT (scenario = ANY($2))${assigned ? ' AND NOT by_assignment' : ''}`, [id, wanted]);
  if (assigned) await db.query('UPDATE runtime_scenarios SET by_hand = false WHERE runtime_id = $1 AND by_hand AND NOT (scenario = ANY($2))', [id, wanted]);
  await db.query(
    `INSERT INTO ${k.memberships} (tenant_id, ${k.fk}, scenario) SELECT $1, $2, unnest($3::text[])
     ON CONFLICT (${k.fk}, scenario) ${assigned ? 'DO UPDATE SET by_hand = true' : 'DO NOTHING'}`,
    [tenantId, id, wanted],
  );
}

/** Replaces scenarios of a row of the tenant in one transaction; undefined when there is no such row. */
export async function updateScenarios(pool: pg.Pool, kind: ObjectKind, tenantId: string, id: string, names: string[]): Promise<Row | undefined> {
  return withTransaction(pool, async (client) => {
    const { rowCount } = await client.query(`SELECT 1 FROM ${OBJECT_TABLES[kind].table} WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, [tenantId, id]);
    if (!rowCount) return undefined;
    await replaceScenarios(client, kind, tenantId, id, names);
    await client.query(`UPDATE ${OBJECT_TABLES[kind].table} SET updated_at = now() WHERE id = $1`, [id]);
    return getRow(client, kind, tenantId, id);
  });
}

/** The configVersion and condition of the caller (one indexed read); undefined when it no longer exists. */
export async function configState(db: Db, kind: ObjectKind, tenantId: string, id: string): Promise<{ version: number; condition: string } | undefined> {
  const { rows } = await db.query<{ config_version: string; condition: string }>(
    `SELECT config_version, condition FROM ${OBJECT_TABLES[kind].table} WHERE id = $1 AND tenant_id = $2`,
    [id, tenantId],
  );
  return rows[0] ? { version: Number(rows[0].config_version), condition: rows[0].condition } : undefined;
}
