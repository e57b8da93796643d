import type { Db } from './tx.js';

export const OPERATION_TYPES = ['PAIRING', 'API_REGISTRATION', 'PROVISIONING', 'DEPROVISIONING', 'UNREGISTRATION'] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];
export const OPERATION_STATES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED'] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

export interface OperationRow {
  id: string;
  tenant_id: string;
  type: OperationType;
  state: OperationState;
  stage: string;
  message: string | null;
  resource_id: string;
  workflow_id: string | null;
  started_at: Date;
  finished_at: Date | null;
}

export interface NewOperation {
  tenantId: string;
  type: OperationType;
  resourceId: string;
  stage: string;
  state?: OperationState;
  workflowId?: string;
}

/** Records an operation (IN_PROGRESS unless another state is given; finished at once when not). */
export async function insertOperation(db: Db, op: NewOperation): Promise<OperationRow> {
  const state = op.state ?? 'IN_PROGRESS';
  const { rows } = await db.query<OperationRow>(
    `INSERT INTO operations (tenant_id, type, state, stage, resource_id, workflow_id, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $3 = 'IN_PROGRESS' THEN NULL ELSE now() END) RETURNING *`,
    [op.tenantId, op.type, state, op.stage, op.resourceId, op.workflowId ?? null],
  );
  return rows[0]!;
}

/** One operation of the tenant; undefined when it is not the tenant's. */
export async function getOperation(db: Db, tenantId: string, id: string): Promise<OperationRow | undefined> {
  const { rows } = await db.query<OperationRow>('SELECT * FROM operations WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return rows[0];
}

/** Moves an in-progress operation to `stage`, and finishes it when `state` is given. */
export async function setOperation(db: Db, operationId: string, stage: string, state?: 'SUCCEEDED' | 'FAILED', message?: string): Promise<void> {
  await db.query(
    `UPDATE operations SET stage = $2,
       state = COALESCE($3, state), message = COALESCE($4, message),
       finished_at = CASE WHEN $3::text IS NULL THEN finished_at ELSE now() END
     WHERE id = $1 AND state = 'IN_PROGRESS'`,
    [operationId, stage, state ?? null, message ?? null],
  );
}

/** Fails the application's in-progress pairing operations: a new pairing request supersedes them. */
export async function supersedePairings(db: Db, applicationId: string): Promise<void> {
  await db.query(
    `UPDATE operations SET state = 'FAILED', message = 'superseded by a new pairing request', finished_at = now()
     WHERE resource_id = $1 AND type = 'PAIRING' AND state = 'IN_PROGRESS'`,
    [applicationId],
  );
}
