import type pg from 'pg';
import { revokeCertificatesOf } from './certificates.js';
import { getRow, replaceLabels, replaceScenarios, type Labels, type Row } from './objects.js';
import { insertOperation, type OperationRow } from './operations.js';
import { invalidateTokens } from './tokens.js';
import { withTransaction } from './tx.js';

export interface NewApplication {
  name: string;
  description?: string;
  providerName?: string;
  labels?: Labels;
  scenarios?: string[];
}

/** Creates an application with its labels and scenarios (DEFAULT when none are given) in one transaction. */
export async function createApplication(pool: pg.Pool, tenantId: string, input: NewApplication): Promise<Row> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      'INSERT INTO applications (tenant_id, name, description, provider_name) VALUES ($1, $2, $3, $4) RETURNING id',
      [tenantId, input.name, input.description ?? '', input.providerName ?? null],
    );
    const id = rows[0]!.id;
    await replaceLabels(client, 'application', id, input.labels ?? {});
    await replaceScenarios(client, 'application', tenantId, id, input.scenarios?.length ? input.scenarios : ['DEFAULT']);
    return (await getRow(client, 'application', tenantId, id))!;
  });
}

export interface ApplicationPatch {
  description?: string;
  providerName?: string | null;
  labels?: Labels;
}

/** Applies a patch; undefined when the application is not the tenant's. */
export async function updateApplication(pool: pg.Pool, tenantId: string, id: string, patch: ApplicationPatch): Promise<Row | undefined> {
  return withTransaction(pool, async (client) => {
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
