// Automatic scenario assignment (admin): "runtimes whose label K equals V join scenario S". Creating or
// removing it records a SCENARIO_ASSIGNMENT operation and starts its pass (scenario-assignment:<id>);
// runtimes created or relabelled afterwards follow it in their own transaction (db/objects.ts).
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { insertOperation, supersedeAssignments, type OperationRow } from '../../db/operations.js';
import { assignmentOf, deleteAssignment, insertAssignment, scenarioIdOf, type AssignmentRow } from '../../db/scenario-assignments.js';
import { UNIQUE_VIOLATION, pgError, withTransaction, type Db } from '../../db/tx.js';
import { scenarioAssignmentStart } from '../../services/workflow-starts.js';
import { workflowId } from '../../workflows/ids.js';
import { AssignmentStage } from '../../workflows/scenario-assignment.js';
import { tenantOf } from '../auth.js';
import { conflict, notFound } from '../problems.js';
import { route, type Route } from '../route.js';
import { startRecorded } from '../starts.js';
import { LabelKey, LabelValue, ScenarioName, Timestamp } from '../schemas.js';
import { LABEL_REFUSAL, assertLabels } from './label-definitions.js';
import { Operation, toOperation, workflowLink } from './operations.js';

const Selector = z.strictObject({ key: LabelKey, value: LabelValue }).meta({ description: 'runtimes whose label `key` equals `value` (JSON equality)' });

export const Assignment = z.object({ scenario: z.string(), selector: z.object({ key: z.string(), value: z.unknown() }), createdAt: Timestamp });

const toAssignment = (row: AssignmentRow): z.infer<typeof Assignment> => ({
  scenario: row.scenario,
  selector: { key: row.key, value: row.value },
  createdAt: row.created_at.toISOString(),
});

const Params = z.strictObject({ name: ScenarioName });

export interface AssignmentRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  temporalUiUrl?: string;
}

/** `POST/GET/DELETE /v1/scenarios/{name}/assignments`. */
export function scenarioAssignmentRoutes(deps: AssignmentRouteDeps): Route[] {
  const { pool, temporal } = deps;
  const link = workflowLink(deps);

  /**
   * In one transaction with the scenario locked: `change` (which answers 404/409 by throwing), the
   * in-progress pass superseded and a new SCENARIO_ASSIGNMENT operation recorded; then the pass started.
   */
  const changeAssignment = async <T>(tenantId: string, scenario: string, change: (db: Db) => Promise<T>, log: { warn(o: object, m: string): void }) => {
    const { result, operation, scenarioId } = await withTransaction(pool, async (client) => {
      const scenarioId = await scenarioIdOf(client, tenantId, scenario, true);
      if (!scenarioId) throw notFound('no such scenario');
      const result = await change(client);
      await supersedeAssignments(client, scenarioId);
      const operation: OperationRow = await insertOperation(client, {
        tenantId,
        type: 'SCENARIO_ASSIGNMENT',
        resourceId: scenarioId,
        stage: AssignmentStage.ASSIGNING,
        workflowId: workflowId.scenarioAssignment(scenarioId),
      });
      return { result, operation, scenarioId };
    });
    await startRecorded(temporal, scenarioAssignmentStart({ taskQueue: deps.taskQueue, tenantId, scenarioId, scenario, operationId: operation.id }), log);
    return { result, operation: toOperation(operation, link) };
  };

  return [
    route({
      method: 'post',
      path: '/v1/scenarios/{name}/assignments',
      operationId: 'create-scenario-assignment',
      summary: 'Runtimes whose label matches the selector join the scenario, now (a pass, tracked by the operation) and whenever they are created or relabelled; at most one per scenario',
      tag: 'scenarios',
      auth: 'admin',
      params: Params,
      body: z.strictObject({ selector: Selector }),
      responses: { 202: { description: 'Recorded; the pass over existing runtimes started', schema: z.object({ assignment: Assignment, operation: Operation }) } },
      refusals: { ...LABEL_REFUSAL, 409: 'The scenario has an assignment already (delete it first)' },
      handle: async ({ req, params, body }) => {
        const tenantId = tenantOf(req);
        // A value its key's definition refuses could never match a label.
        await assertLabels(pool, tenantId, { [body.selector.key]: body.selector.value });
        const { result, operation } = await changeAssignment(
          tenantId,
          params.name,
          (db) =>
            insertAssignment(db, tenantId, params.name, body.selector.key, body.selector.value).catch((error: unknown) => {
              if (pgError(error)?.code === UNIQUE_VIOLATION) throw conflict(`scenario "${params.name}" has an assignment already; delete it first`);
              throw error;
            }),
          req.log,
        );
        return { status: 202, body: { assignment: toAssignment(result), operation }, headers: { location: `/v1/operations/${operation.id}` } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/scenarios/{name}/assignments',
      operationId: 'list-scenario-assignments',
      summary: "The scenario's automatic assignment (none or one)",
      tag: 'scenarios',
      auth: 'admin',
      params: Params,
      responses: { 200: { description: 'Its assignment, if any', schema: z.object({ items: z.array(Assignment), nextCursor: z.null() }) } },
      handle: async ({ req, params }) => {
        const tenantId = tenantOf(req);
        if (!(await scenarioIdOf(pool, tenantId, params.name))) throw notFound('no such scenario');
        const row = await assignmentOf(pool, tenantId, params.name);
        return { status: 200, body: { items: row ? [toAssignment(row)] : [], nextCursor: null } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/scenarios/{name}/assignments',
      operationId: 'delete-scenario-assignment',
      summary: 'Remove the assignment: runtimes that are members only through it leave the scenario (a pass, tracked by the operation); members by hand stay',
      tag: 'scenarios',
      auth: 'admin',
      params: Params,
      responses: { 202: { description: 'Removed; the pass over its runtimes started', schema: Operation } },
      handle: async ({ req, params }) => {
        const tenantId = tenantOf(req);
        const { operation } = await changeAssignment(
          tenantId,
          params.name,
          async (db) => {
            if (!(await deleteAssignment(db, tenantId, params.name))) throw notFound('the scenario has no assignment');
          },
          req.log,
        );
        return { status: 202, body: operation, headers: { location: `/v1/operations/${operation.id}` } };
      },
    }),
  ];
}
