import type pg from 'pg';
import { revokeCertificatesOf } from './certificates.js';
import { getRow, replaceLabels, replaceScenarios, type Labels, type Row } from './objects.js';
import { insertOperation, type OperationRow } from './operations.js';
import { invalidateTokens } from './tokens.js';
import { withTransaction, type Db } from './tx.js';

export interface NewApplication {
  name: string;
  description?: string;
  providerName?: string;
  labels?: Labels;
  scenarios?: string[];
}

/** Creates an application with its labels and scenarios (DEFAULT when none are given) in one transaction. */
export async function createApplication(pool: pg.Pool, tenantId: string, input: NewApplication): Promise<Row> {
  return withTransaction(pool, (client) => insertApplication(client, tenantId, input));
}

/** Inserts an application with its labels and scenarios (DEFAULT when none are given) in the caller's transaction. */
export async function insertApplication(client: pg.PoolClient, tenantId: string, input: NewApplication): Promise<Row> {
  const { rows } = await client.query<{ id: string }>(
    'INSERT INTO applications (tenant_id, name, description, provider_name) VALUES ($1, $2, $3, $4) RETURNING id',
    [tenantId, input.name, input.description ?? '', input.providerName ?? null],
  );
  const id = rows[0]!.id;
  await replaceLabels(client, 'application', id, input.labels ?? {});
  await replaceScenarios(client, 'application', tenantId, id, input.scenarios?.length ? input.scenarios : ['DEFAULT']);
  return (await getRow(client, 'application', tenantId, id))!;
}

export interface ApplicationPatch {
  description?: string;
  providerName?: string | null;
  labels?: Labels;
}

/** Applies a patch; undefined when the application is not the tenant's. */
export async function updateApplication(pool: pg.Pool, tenantId: string, id: string, patch: ApplicationPatch, guard?: (db: Db) => Promise<void>): Promise<Row | undefined> {
  return withTransaction(pool, async (client) => {
    await guard?.(client);
    const { rowCount } = await client.query(
      `UPDATE applications SET
         description = COALESCE($3, description),
         provider_name = CASE WHEN $4::boolean THEN $5 ELSE provider_name END,
         updated_at = now()
       WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id, patch.description ?? null, patch.providerName !== undefined, patch.providerName ?? null],
    );
    if (!rowCount) return undefined;
    if (patch.labels) await replaceLabels(client, 'application', id, patch.labels);
    return getRow(client, 'application', tenantId, id);
  });
}

/**
 * Unregisters an application: removes it with its labels and memberships, revokes its certificates
 * and invalidates its unused tokens in one transaction, and records the operation. Later flows (certificate revocation, notifications) hang off that operation.
 */
export async function deleteApplication(pool: pg.Pool, tenantId: string, id: string): Promise<OperationRow | undefined> {
  return withTransaction(pool, async (client) => {
    const { rowCount } = await client.query('DELETE FROM applications WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    if (!rowCount) return undefined;
    await revokeCertificatesOf(client, id);
    await invalidateTokens(client, id);
    return insertOperation(client, { tenantId, type: 'UNREGISTRATION', resourceId: id, stage: 'FINISHED', state: 'SUCCEEDED' });
  });
}

/** Whether the application exists and is the tenant's. */
export async function applicationExists(db: Db, tenantId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM applications WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return !!rowCount;
}

/** Locks the application's row until the caller's transaction ends; false when it is not the tenant's. */
export async function lockApplication(client: pg.PoolClient, tenantId: string, id: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM applications WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, id]);
  return !!rowCount;
}

/** Sets the application PAIRING and returns the condition it had before; undefined when it no longer exists. */
export async function markPairing(db: Db, id: string): Promise<string | undefined> {
  const { rows } = await db.query<{ previous: string }>(
    `UPDATE applications a SET condition = 'PAIRING', condition_updated_at = now(), updated_at = now()
     FROM (SELECT id, condition AS previous FROM applications WHERE id = $1 FOR UPDATE) p
     WHERE a.id = p.id RETURNING p.previous`,
    [id],
  );
  return rows[0]?.previous;
}

/** Sets the application's condition. */
export async function setApplicationCondition(db: Db, id: string, condition: string): Promise<void> {
  await db.query(`UPDATE applications SET condition = $2, condition_updated_at = now(), updated_at = now() WHERE id = $1`, [id, condition]);
}

/** Gives a pairing application back the condition it had before, unless something else changed it meanwhile. */
export async function restoreAfterPairing(db: Db, id: string, previousCondition: string): Promise<void> {
  await db.query(
    `UPDATE applications SET condition = $2, condition_updated_at = now(), updated_at = now() WHERE id = $1 AND condition = 'PAIRING'`,
    [id, previousCondition],
  );
}
