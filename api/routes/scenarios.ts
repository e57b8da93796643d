// Scenarios: the named groups that decide which applications and runtimes see each other.
import type pg from 'pg';
import { z } from 'zod';
import { createScenario, deleteScenario, listScenarios, scenarioUsers, type ScenarioRow } from '../../db/scenarios.js';
import { FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, pgError } from '../../db/tx.js';
import { tenantOf } from '../auth.js';
import { conflict, notFound } from '../problems.js';
import { noContent, route, type Route } from '../route.js';
import { PageQuery, ScenarioName, Timestamp, pageOf } from '../schemas.js';
import { Assignment, toAssignment } from './scenario-assignments.js';

export const Scenario = z.object({ name: z.string(), createdAt: Timestamp, assignments: z.array(Assignment) });

/** The API object of a scenario row. */
export const toScenario = (row: ScenarioRow): z.infer<typeof Scenario> => ({
  name: row.name,
  createdAt: row.created_at.toISOString(),
  assignments: (row.assignments ?? []).map((a) => toAssignment({ ...a, scenario: row.name })),
});

/** Create, list and delete scenarios (admin). */
export function scenarioRoutes(pool: pg.Pool): Route[] {
  return [
    route({
      method: 'post',
      path: '/v1/scenarios',
      operationId: 'create-scenario',
      summary: 'Create a scenario',
      tag: 'scenarios',
      auth: 'admin',
      body: z.strictObject({ name: ScenarioName }),
      responses: { 201: { description: 'Created', schema: Scenario } },
      handle: async ({ req, body }) => {
        try {
          return { status: 201, body: toScenario(await createScenario(pool, tenantOf(req), body.name)) };
        } catch (error) {
          if (pgError(error)?.code === UNIQUE_VIOLATION) throw conflict(`scenario "${body.name}" already exists`);
          throw error;
        }
      },
    }),
    route({
      method: 'get',
      path: '/v1/scenarios',
      operationId: 'list-scenarios',
      summary: 'List scenarios by name',
      tag: 'scenarios',
      auth: 'admin',
      query: z.strictObject(PageQuery),
      responses: { 200: { description: 'A page of scenarios', schema: pageOf(Scenario) } },
      handle: async ({ req, query }) => {
        const page = await listScenarios(pool, tenantOf(req), query.limit, query.cursor);
        return { status: 200, body: { items: page.items.map(toScenario), nextCursor: page.nextCursor } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/scenarios/{name}',
      operationId: 'delete-scenario',
      summary: 'Delete a scenario nobody uses; DEFAULT always stays',
      tag: 'scenarios',
      auth: 'admin',
      params: z.strictObject({ name: ScenarioName }),
      responses: noContent,
      handle: async ({ req, params }) => {
        if (params.name === 'DEFAULT') throw conflict('the DEFAULT scenario cannot be deleted');
        let deleted: boolean;
        try {
          deleted = await deleteScenario(pool, tenantOf(req), params.name);
        } catch (error) {
          if (pgError(error)?.code !== FOREIGN_KEY_VIOLATION) throw error;
          const users = await scenarioUsers(pool, tenantOf(req), params.name);
          throw conflict(`scenario "${params.name}" is still used by ${users.join(', ')}`);
        }
        if (!deleted) throw notFound('no such scenario');
        return { status: 204 };
      },
    }),
  ];
}
