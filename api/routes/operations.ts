// Operations: what a long-running change (pairing, registration, provisioning, …) is doing, for polling.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { OPERATION_STATES, OPERATION_TYPES, getOperation, listOperations, type OperationRow } from '../../db/operations.js';
import { stageTimeline, startedFor, workflowPage } from '../../lib/temporal.js';
import { tenantOf } from '../auth.js';
import { notFound } from '../problems.js';
import { route, type Route } from '../route.js';
import { Id, IdParams, PageQuery, Timestamp } from '../schemas.js';

export const Operation = z.object({
  id: z.uuid(),
  type: z.enum(OPERATION_TYPES),
  state: z.enum(OPERATION_STATES),
  stage: z.string(),
  message: z.string().optional(),
  resourceId: z.uuid(),
  workflowId: z.string().nullable(),
  /** The workflow's page in the Temporal Web UI, when Meridian knows where the UI is (MERIDIAN_TEMPORAL_UI_URL). */
  temporalUiUrl: z.url().optional(),
  startedAt: Timestamp,
  finishedAt: Timestamp.optional(),
  /** A scenario assignment's pass: runtimes examined of the tenant's total, joined and left so far. */
  progress: z.object({ examined: z.number().int(), total: z.number().int(), joined: z.number().int(), left: z.number().int() }).optional(),
});

/** Where a workflow's Temporal UI page is, when a UI is configured. */
export type WorkflowLink = (workflowId: string | null) => string | undefined;

/** The API object of an operation row, linked to its workflow's Temporal UI page when `link` knows it. */
export function toOperation(row: OperationRow, link?: WorkflowLink): z.infer<typeof Operation> {
  const temporalUiUrl = link?.(row.workflow_id);
  return {
    id: row.id,
    type: row.type,
    state: row.state,
    stage: row.stage,
    ...(row.message && { message: row.message }),
    resourceId: row.resource_id,
    workflowId: row.workflow_id,
    ...(temporalUiUrl && { temporalUiUrl }),
    startedAt: row.started_at.toISOString(),
    ...(row.finished_at && { finishedAt: row.finished_at.toISOString() }),
    ...(row.progress && { progress: row.progress }),
  };
}

export interface OperationRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  temporalUiUrl?: string;
}

/** A link to a workflow's Temporal UI page in the API's namespace, when a UI is configured. */
export const workflowLink =
  (deps: { temporal: Client; temporalUiUrl?: string }): WorkflowLink =>
  (id) =>
    workflowPage(deps.temporalUiUrl, deps.temporal.options.namespace, id);

/** `GET /v1/operations` and `GET /v1/operations/{id}` (admin). */
export function operationRoutes(deps: OperationRouteDeps): Route[] {
  const { pool } = deps;
  const link = workflowLink(deps);
  return [
    route({
      method: 'get',
      path: '/v1/operations',
      operationId: 'list-operations',
      summary: "The tenant's operations, newest first; of one resource (application, definition, runtime) or in one state when asked",
      tag: 'operations',
      auth: 'admin',
      query: z.strictObject({
        ...PageQuery,
        resourceId: Id.optional(),
        state: z.enum(OPERATION_STATES, { error: `must be one of ${OPERATION_STATES.join(', ')}` }).optional(),
      }),
      responses: { 200: { description: 'A page of operations', schema: z.object({ items: z.array(Operation), nextCursor: z.string().nullable() }) } },
      handle: async ({ req, query }) => {
        const page = await listOperations(pool, tenantOf(req), query);
        return { status: 200, body: { items: page.items.map((row) => toOperation(row, link)), nextCursor: page.nextCursor } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/operations/{id}/stages',
      operationId: 'list-operation-stages',
      summary: "The stages an operation's workflow went through, each with when it entered it (from the workflow's history); none when its workflow id has since run for a later operation",
      tag: 'operations',
      auth: 'admin',
      params: IdParams,
      responses: { 200: { description: 'Its stages in order', schema: z.object({ items: z.array(z.object({ stage: z.string(), at: Timestamp })), nextCursor: z.null() }) } },
      handle: async ({ req, params }) => {
        const row = await getOperation(pool, tenantOf(req), params.id);
        if (!row) throw notFound('no such operation');
        const history = row.workflow_id
          ? await deps.temporal.workflow
              .getHandle(row.workflow_id)
              .fetchHistory()
              .catch((error: unknown) => {
                if (error instanceof WorkflowNotFoundError) return { events: [] };
                throw error;
              })
          : { events: [] };
        // The workflow id's latest run may be a later operation's (a new pairing): then this one's stages are not there.
        return { status: 200, body: { items: row.workflow_id && startedFor(history, row.id) ? stageTimeline(history) : [], nextCursor: null } };
      },
    }),
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
        return { status: 200, body: toOperation(row, link) };
      },
    }),
  ];
}
