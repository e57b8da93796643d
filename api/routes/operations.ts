// Operations: what a long-running change (pairing, registration, provisioning, …) is doing, for polling.
import type pg from 'pg';
import { z } from 'zod';
import { OPERATION_STATES, OPERATION_TYPES, getOperation, type OperationRow } from '../../db/operations.js';
import { tenantOf } from '../auth.js';
import { notFound } from '../problems.js';
import { route, type Route } from '../route.js';
import { IdParams, Timestamp } from '../schemas.js';

export const Operation = z.object({
  id: z.uuid(),
  type: z.enum(OPERATION_TYPES),
  state: z.enum(OPERATION_STATES),
  stage: z.string(),
  message: z.string().optional(),
  resourceId: z.uuid(),
  workflowId: z.string().nullable(),
  startedAt: Timestamp,
  finishedAt: Timestamp.optional(),
});

/** The API object of an operation row. */
export function toOperation(row: OperationRow): z.infer<typeof Operation> {
  return {
    id: row.id,
    type: row.type,
    state: row.state,
    stage: row.stage,
    ...(row.message && { message: row.message }),
    resourceId: row.resource_id,
    workflowId: row.workflow_id,
    startedAt: row.started_at.toISOString(),
    ...(row.finished_at && { finishedAt: row.finished_at.toISOString() }),
  };
}

/** `GET /v1/operations/{id}` (admin). */
export function operationRoutes(pool: pg.Pool): Route[] {
  return [
    route({
      method: 'get',
      path: '/v1/operations/{id}',
      operationId: 'get-operation',
      summary: 'Get an operation',
      tag: 'operations',
      auth: 'admin',
      params: IdParams,
      responses: { 200: { description: 'The operation', schema: Operation } },
      handle: async ({ req, params }) => {
        const row = await getOperation(pool, tenantOf(req), params.id);
        if (!row) throw notFound('no such operation');
        return { status: 200, body: toOperation(row) };
      },
    }),
  ];
}
