// Automatic scenario assignment (admin): "runtimes whose label K equals V join scenario S". Creating or
// removing one records a SCENARIO_ASSIGNMENT operation and starts the scenario's pass
// (scenario-assignment:<scenario id>); runtimes created or relabelled afterwards follow in their own
// transaction (db/objects.ts, db/runtimes.ts).
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { insertOperation, supersedeAssignments, type OperationRow } from '../../db/operations.js';
import { assignmentsOf, deleteAssignments, insertAssignment, lockAssignments, scenarioIdOf, type AssignmentRow } from '../../db/scenario-assignments.js';
import { UNIQUE_VIOLATION, pgError, withTransaction, type Db } from '../../db/tx.js';
import { scenarioAssignmentStart } from '../../services/workflow-starts.js';
import { workflowId } from '../../workflows/ids.js';
import { AssignmentStage } from '../../workflows/scenario-assignment.js';
import { tenantOf } from '../auth.js';
import { conflict, notFound } from '../problems.js';
import { route, type Route } from '../route.js';
import { startRecorded } from '../starts.js';
import { Id, LabelKey, LabelValue, ScenarioName, Timestamp } from '../schemas.js';
import { LABEL_REFUSAL, assertLabels } from './label-definitions.js';
import { Operation, toOperation, workflowLink } from './operations.js';

const Selector = z.strictObject({ key: LabelKey, value: LabelValue }).meta({ description: 'runtimes whose label `key` equals `value` (JSON equality)' });

export const Assignment = z.object({ id: z.uuid(), scenario: z.string(), selector: z.object({ key: z.string(), value: z.unknown() }), createdAt: Timestamp });

/** The API object of an assignment (a row, or one of a scenario's listed with it). */
export const toAssignment = (row: Pick<AssignmentRow, 'id' | 'scenario' | 'key' | 'value'> & { created_at: Date | string }): z.infer<typeof Assignment> => ({
  id: row.id,
  scenario: row.scenario,
  selector: { key: row.key, value: row.value },
  createdAt: new Date(row.created_at).toISOString(),
});

const Params = z.strictObject({ name: ScenarioName });

export interface AssignmentRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  temporalUiUrl?: string;
}

/** `POST/GET/DELETE /v1/scenarios/{name}/assignments` and `DELETE /v1/scenarios/{name}/assignments/{id}`. */
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
      await lockAssignments(client, tenantId, 'exclusive');
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

  /** Removes one assignment (`id`) or all of the scenario's; 404 when there is none to remove. */
  const removal = (tenantId: string, scenario: string, id?: string) => async (db: Db) => {
    if ((await deleteAssignments(db, tenantId, scenario, id)) === 0) throw notFound(id ? 'no such assignment of this scenario' : 'the scenario has no assignment');
  };

  return [
    route({
      method: 'post',
      path: '/v1/scenarios/{name}/assignments',
      operationId: 'create-scenario-assignment',
      summary: 'Runtimes whose label matches the selector join the scenario: those that match now through a pass (tracked by the operation), later ones when created or relabelled',
      tag: 'scenarios',
      auth: 'admin',
      params: Params,
      body: z.strictObject({ selector: Selector }),
      responses: { 202: { description: 'Recorded; the pass over existing runtimes started', schema: z.object({ assignment: Assignment, operation: Operation }) } },
      refusals: { ...LABEL_REFUSAL, 409: 'The scenario has an assignment with this selector already' },
      handle: async ({ req, params, body }) => {
        const tenantId = tenantOf(req);
        // A value its key's definition refuses could never match a label.
        await assertLabels(pool, tenantId, { [body.selector.key]: body.selector.value });
        const { result, operation } = await changeAssignment(
          tenantId,
          params.name,
          (db) =>
            insertAssignment(db, tenantId, params.name, body.selector.key, body.selector.value).catch((error: unknown) => {
              if (pgError(error)?.code === UNIQUE_VIOLATION) throw conflict(`scenario "${params.name}" has an assignment with this selector already`);
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
      summary: "The scenario's automatic assignments, oldest first",
      tag: 'scenarios',
      auth: 'admin',
      params: Params,
      responses: { 200: { description: 'Its assignments', schema: z.object({ items: z.array(Assignment), nextCursor: z.null() }) } },
      handle: async ({ req, params }) => {
        const tenantId = tenantOf(req);
        if (!(await scenarioIdOf(pool, tenantId, params.name))) throw notFound('no such scenario');
        return { status: 200, body: { items: (await assignmentsOf(pool, tenantId, params.name)).map(toAssignment), nextCursor: null } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/scenarios/{name}/assignments/{id}',
      operationId: 'delete-scenario-assignment',
      summary: 'Remove one assignment: runtimes that were members only through it leave the scenario (a pass, tracked by the operation); members by hand, or through another assignment, stay',
      tag: 'scenarios',
      auth: 'admin',
      params: z.strictObject({ name: ScenarioName, id: Id }),
      responses: { 202: { description: 'Removed; the pass over the runtimes started', schema: Operation } },
      handle: async ({ req, params }) => {
        const tenantId = tenantOf(req);
        const { operation } = await changeAssignment(tenantId, params.name, removal(tenantId, params.name, params.id), req.log);
        return { status: 202, body: operation, headers: { location: `/v1/operations/${operation.id}` } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/scenarios/{name}/assignments',
      operationId: 'delete-scenario-assignments',
      summary: 'Remove every assignment of the scenario: runtimes that were members only through them leave (a pass, tracked by the operation); members by hand stay',
      tag: 'scenarios',
      auth: 'admin',
      params: Params,
      responses: { 202: { description: 'Removed; the pass over the runtimes started', schema: Operation } },
      handle: async ({ req, params }) => {
        const tenantId = tenantOf(req);
        const { operation } = await changeAssignment(tenantId, params.name, removal(tenantId, params.name), req.log);
        return { status: 202, body: operation, headers: { location: `/v1/operations/${operation.id}` } };
      },
    }),
  ];
}
