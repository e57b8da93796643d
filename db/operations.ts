import { InvalidCursor } from './objects.js';
import { decodeCursor, encodeCursor, type Page } from './page.js';
import type { Db } from './tx.js';

export const OPERATION_TYPES = ['PAIRING', 'API_REGISTRATION', 'PROVISIONING', 'DEPROVISIONING', 'UNREGISTRATION', 'SCENARIO_ASSIGNMENT', 'RECOVERY'] as const;
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
  /** How far a long operation is (a scenario assignment's pass over the tenant's runtimes). */
  progress: OperationProgress | null;
}

/** A scenario assignment's pass: runtimes examined of the tenant's total, and how many joined or left. */
export interface OperationProgress {
  examined: number;
  total: number;
  joined: number;
  left: number;
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

/** Fails the definition's in-progress registrations: a replacement supersedes them (and terminates their workflow). */
export async function supersedeRegistrations(db: Db, definitionId: string): Promise<void> {
  await db.query(
    `UPDATE operations SET state = 'FAILED', message = 'superseded by a newer registration of the definition', finished_at = now()
     WHERE resource_id = $1 AND type = 'API_REGISTRATION' AND state = 'IN_PROGRESS'`,
    [definitionId],
  );
}

/** An in-progress operation the reconciler looks at, with what it needs to start its workflow again. */
export interface UnfinishedOperation extends OperationRow {
  /** A newer operation of the same type exists for the same resource. */
  superseded: boolean;
  /** PROVISIONING, DEPROVISIONING, RECOVERY: the runtime, when it still exists. */
  runtime: { name: string; provider: string } | null;
  /** API_REGISTRATION: the definition, when it still exists. */
  definition: { applicationId: string; kind: 'API' | 'EVENT'; name: string; specType: string | null } | null;
  /** SCENARIO_ASSIGNMENT: the scenario's name, when it still exists. */
  scenario: string | null;
}

/**
 * In-progress operations with a workflow that started before `startedBefore`, oldest first (index
 * `operations_in_progress`); optionally only of some tenants.
 */
export async function unfinishedOperations(db: Db, options: { startedBefore: Date; tenantIds?: string[]; limit: number }): Promise<UnfinishedOperation[]> {
  const { rows } = await db.query<UnfinishedOperation>(
    `SELECT o.*,
       EXISTS (SELECT 1 FROM operations n WHERE n.resource_id = o.resource_id AND n.type = o.type AND n.started_at > o.started_at) AS superseded,
       CASE WHEN r.id IS NULL THEN NULL ELSE json_build_object('name', r.name, 'provider', r.provider) END AS runtime,
       CASE WHEN d.id IS NULL THEN NULL
         ELSE json_build_object('applicationId', d.application_id, 'kind', d.kind, 'name', d.name, 'specType', d.spec_type) END AS definition,
       s.name AS scenario
     FROM operations o
     LEFT JOIN runtimes r ON o.type IN ('PROVISIONING', 'DEPROVISIONING', 'RECOVERY') AND r.id = o.resource_id
     LEFT JOIN definitions d ON o.type = 'API_REGISTRATION' AND d.id = o.resource_id
     LEFT JOIN scenarios s ON o.type = 'SCENARIO_ASSIGNMENT' AND s.id = o.resource_id
     WHERE o.state = 'IN_PROGRESS' AND o.workflow_id IS NOT NULL AND o.started_at < $1
       AND ($2::uuid[] IS NULL OR o.tenant_id = ANY($2::uuid[]))
     ORDER BY o.started_at
     LIMIT $3`,
    [options.startedBefore, options.tenantIds ?? null, options.limit],
  );
  return rows;
}

/** Fails an operation if it is still in progress (the one writer that wins); true when this call failed it. */
export async function failInProgressOperation(db: Db, operationId: string, message: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE operations SET state = 'FAILED', message = $2, finished_at = now() WHERE id = $1 AND state = 'IN_PROGRESS'`,
    [operationId, message],
  );
  return (rowCount ?? 0) > 0;
}

/** The application's pairing operation in progress, if any (at most one: a new request supersedes the others). */
export async function pairingInProgress(db: Db, applicationId: string): Promise<OperationRow | undefined> {
  const { rows } = await db.query<OperationRow>(
    `SELECT * FROM operations WHERE resource_id = $1 AND type = 'PAIRING' AND state = 'IN_PROGRESS' ORDER BY started_at DESC LIMIT 1`,
    [applicationId],
  );
  return rows[0];
}

export interface OperationFilter {
  limit: number;
  cursor?: string;
  resourceId?: string;
  state?: OperationState;
}

/** A page of the tenant's operations, newest first (index `operations_by_tenant`), of one resource or state when asked. */
export async function listOperations(db: Db, tenantId: string, filter: OperationFilter): Promise<Page<OperationRow>> {
  const params: unknown[] = [tenantId, filter.resourceId ?? null, filter.state ?? null];
  let after = '';
  if (filter.cursor !== undefined) {
    const cursor = decodeCursor(filter.cursor);
    if (!cursor) throw new InvalidCursor('cursor: is not a cursor this server issued');
    params.push(cursor.createdAt, cursor.id);
    after = 'AND (started_at, id) < ($4::timestamptz, $5::uuid)';
  }
  params.push(filter.limit + 1);
  const { rows } = await db.query<OperationRow & { cursor_at: string }>(
    `SELECT *, started_at::text AS cursor_at FROM operations
     WHERE tenant_id = $1 AND ($2::uuid IS NULL OR resource_id = $2) AND ($3::text IS NULL OR state = $3) ${after}
     ORDER BY started_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  const items = rows.slice(0, filter.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor({ createdAt: last.cursor_at, id: last.id }) : null };
}

/** Records how far an in-progress operation is; false when it is no longer in progress (superseded). */
export async function setOperationProgress(db: Db, operationId: string, progress: OperationProgress): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE operations SET progress = $2 WHERE id = $1 AND state = 'IN_PROGRESS'`, [operationId, JSON.stringify(progress)]);
  return (rowCount ?? 0) > 0;
}

/** Fails the scenario's in-progress assignment passes: a newer change of its assignment supersedes them. */
export async function supersedeAssignments(db: Db, scenarioId: string): Promise<void> {
  await db.query(
    `UPDATE operations SET state = 'FAILED', message = 'superseded by a newer change of the scenario assignment', finished_at = now()
     WHERE resource_id = $1 AND type = 'SCENARIO_ASSIGNMENT' AND state = 'IN_PROGRESS'`,
    [scenarioId],
  );
}
