// Label definitions: the JSON Schema each label key of a tenant must satisfy, and the labels they judge.
import type { Db } from './tx.js';

export interface LabelDefinitionRow {
  key: string;
  schema: unknown;
  created_at: Date;
  updated_at: Date;
}

/** The tenant's definitions, by key. */
export async function listLabelDefinitions(db: Db, tenantId: string): Promise<LabelDefinitionRow[]> {
  const { rows } = await db.query<LabelDefinitionRow>('SELECT key, schema, created_at, updated_at FROM label_definitions WHERE tenant_id = $1 ORDER BY key', [tenantId]);
  return rows;
}

/**
 * Locks these label keys of the tenant until the transaction ends: `shared` by a write of labels with
 * them (checked against their definitions inside the lock), `exclusive` by a change of a definition
 * (checked against the labels in place): neither can slip between the other's check and commit.
 */
export async function lockLabelKeys(db: Db, tenantId: string, keys: string[], mode: 'shared' | 'exclusive'): Promise<void> {
  if (keys.length === 0) return;
  await db.query(
    `SELECT pg_advisory_xact_lock${mode === 'shared' ? '_shared' : ''}(hashtextextended('label:' || $1 || ':' || k, 0))
     FROM (SELECT DISTINCT k FROM unnest($2::text[]) k ORDER BY k) keys`,
    [tenantId, keys],
  );
}

/** The definitions of these keys (those that have one). */
export async function labelDefinitionsOf(db: Db, tenantId: string, keys: string[]): Promise<LabelDefinitionRow[]> {
  if (keys.length === 0) return [];
  const { rows } = await db.query<LabelDefinitionRow>('SELECT key, schema, created_at, updated_at FROM label_definitions WHERE tenant_id = $1 AND key = ANY($2)', [tenantId, keys]);
  return rows;
}

/** Creates or replaces the definition of a key; the row as stored. */
export async function putLabelDefinition(db: Db, tenantId: string, key: string, schema: unknown): Promise<LabelDefinitionRow> {
  const { rows } = await db.query<LabelDefinitionRow>(
    `INSERT INTO label_definitions (tenant_id, key, schema) VALUES ($1, $2, $3)
     ON CONFLICT (tenant_id, key) DO UPDATE SET schema = EXCLUDED.schema, updated_at = now()
     RETURNING key, schema, created_at, updated_at`,
    [tenantId, key, JSON.stringify(schema)],
  );
  return rows[0]!;
}

/** Removes the definition of a key; false when there was none. */
export async function deleteLabelDefinition(db: Db, tenantId: string, key: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM label_definitions WHERE tenant_id = $1 AND key = $2', [tenantId, key]);
  return (rowCount ?? 0) > 0;
}

/** One label of an application or runtime, as a schema change must judge it. */
export interface LabelHolder {
  kind: 'application' | 'runtime';
  id: string;
  name: string;
  value: unknown;
}

/** Every label with this key in the tenant, on applications and runtimes. */
export async function labelsWithKey(db: Db, tenantId: string, key: string): Promise<LabelHolder[]> {
  const { rows } = await db.query<LabelHolder>(
    `SELECT 'application' AS kind, a.id, a.name, l.value FROM application_labels l JOIN applications a ON a.id = l.application_id WHERE a.tenant_id = $1 AND l.key = $2
     UNION ALL
     SELECT 'runtime' AS kind, r.id, r.name, l.value FROM runtime_labels l JOIN runtimes r ON r.id = l.runtime_id WHERE r.tenant_id = $1 AND l.key = $2
     ORDER BY kind, name`,
    [tenantId, key],
  );
  return rows;
}
