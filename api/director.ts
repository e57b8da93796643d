import type pg from 'pg';
import { z } from 'zod';
import { createApplication, deleteApplication, updateApplication } from '../db/applications.js';
import { deleteLabel, getRow, listRows, setLabel, updateScenarios, type Kind, type Row } from '../db/objects.js';
import { getOperation } from '../db/operations.js';
import { listScenarios, scenarioUsers } from '../db/scenarios.js';
import { CHECK_VIOLATION, FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, pgError } from '../db/tx.js';
import { Application, Operation, Runtime, Scenario, toApplication, toOperation, toRuntime, toScenario } from './objects.js';
import { badRequest, conflict, notFound } from './problems.js';
import { route, type Route } from './route.js';
import { Description, DnsName, Id, IdParams, LabelKey, LabelValue, Labels, PageQuery, ScenarioList, ScenarioName, pageOf } from './schemas.js';

const noContent = { 204: { description: 'Done' } };

const NewApplication = z.strictObject({
  name: DnsName,
  description: Description.optional(),
  providerName: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters').optional(),
  labels: Labels.optional(),
  scenarios: ScenarioList.optional(),
});

const ApplicationPatch = z.strictObject({
  description: Description.optional(),
  providerName: z.string().min(1, 'must not be empty').max(256, 'must be at most 256 characters').nullable().optional(),
  labels: Labels.optional(),
});

/** `label=key=value` (value as JSON when it parses, else as a string) or `label=key` for presence. */
const LabelFilter = z
  .union([z.string(), z.array(z.string())])
  .transform((value, ctx) =>
    (Array.isArray(value) ? value : [value]).map((text) => {
      const [key = '', ...rest] = text.split('=');
      if (!LabelKey.safeParse(key).success) ctx.addIssue({ code: 'custom', message: `"${key}" is not a label key` });
      if (rest.length === 0) return { key };
      const raw = rest.join('=');
      try {
        return { key, value: JSON.parse(raw) as unknown };
      } catch {
        return { key, value: raw };
      }
    }),
  );

const ListQuery = z.strictObject({ ...PageQuery, scenario: ScenarioName.optional(), label: LabelFilter.optional() });

const KIND_INFO = {
  application: { path: 'applications', tag: 'applications', schema: Application, toObject: toApplication, noun: 'application' },
  runtime: { path: 'runtimes', tag: 'runtimes', schema: Runtime, toObject: toRuntime, noun: 'runtime' },
} as const;

const tenantOf = (req: { tenant?: { id: string } }) => req.tenant!.id;

/** Rows of another tenant and missing rows look the same: 404. */
function found<T>(kind: Kind, value: T | undefined): T {
  if (value === undefined) throw notFound(`no such ${KIND_INFO[kind].noun}`);
  return value;
}

/** Database refusals that mean bad input, in the words of the field at fault. */
function refusal(error: unknown, kind: Kind, name?: string): never {
  const pg = pgError(error);
  if (pg?.code === UNIQUE_VIOLATION) throw conflict(`an ${KIND_INFO[kind].noun} named "${name}" already exists in this tenant`);
  if (pg?.code === CHECK_VIOLATION && pg.constraint === 'applications_have_scenario') {
    throw badRequest('an application keeps at least one scenario', [{ path: 'scenarios', message: 'must not be empty for an application' }]);
  }
  throw error;
}

/** Called after a change of memberships commits, with the tenant (to announce new credential slots). */
export type MembershipChanged = (tenantId: string) => Promise<void>;

/** List, get, labels and scenarios: the same for applications and runtimes. */
function sharedRoutes(pool: pg.Pool, kind: Kind, membershipChanged: MembershipChanged): Route[] {
  const { path, tag, schema, toObject, noun } = KIND_INFO[kind];
  const toApi = (row: Row) => toObject(row);
  return [
    route({
      method: 'get',
      path: `/v1/${path}`,
      operationId: `list-${path}`,
      summary: `List ${path}, filtered by scenario and labels (label=key=value, repeatable)`,
      tag,
      auth: 'admin',
      query: ListQuery,
      responses: { 200: { description: `A page of ${path}`, schema: pageOf(schema) } },
      handle: async ({ req, query }) => {
        const page = await listRows(pool, kind, tenantOf(req), { limit: query.limit, cursor: query.cursor, scenario: query.scenario, labels: query.label });
        return { status: 200, body: { items: page.items.map(toApi), nextCursor: page.nextCursor } };
      },
    }),
    route({
      method: 'get',
      path: `/v1/${path}/{id}`,
      operationId: `get-${noun}`,
      summary: `Get one ${noun}`,
      tag,
      auth: 'admin',
      params: IdParams,
      responses: { 200: { description: `The ${noun}`, schema } },
      handle: async ({ req, params }) => ({ status: 200, body: toApi(found(kind, await getRow(pool, kind, tenantOf(req), params.id))) }),
    }),
    route({
      method: 'put',
      path: `/v1/${path}/{id}/scenarios`,
      operationId: `set-${noun}-scenarios`,
      summary: `Replace the scenarios of a ${noun}; every name must exist${kind === 'application' ? ', and at least one must remain' : ''}`,
      tag,
      auth: 'admin',
      params: IdParams,
      body: ScenarioList,
      responses: { 200: { description: `The ${noun} with its new scenarios`, schema } },
      handle: async ({ req, params, body }) => {
        const row = found(kind, await updateScenarios(pool, kind, tenantOf(req), params.id, body).catch((e: unknown) => refusal(e, kind)));
        await membershipChanged(tenantOf(req));
        return { status: 200, body: toApi(row) };
      },
    }),
    route({
      method: 'put',
      path: `/v1/${path}/{id}/labels/{key}`,
      operationId: `set-${noun}-label`,
      summary: `Set one label of a ${noun} to a JSON value`,
      tag,
      auth: 'admin',
      params: z.strictObject({ id: Id, key: LabelKey }),
      body: LabelValue,
      responses: { 200: { description: `The ${noun} with the label set`, schema } },
      handle: async ({ req, params, body }) => {
        found(kind, (await setLabel(pool, kind, tenantOf(req), params.id, params.key, body)) || undefined);
        return { status: 200, body: toApi(found(kind, await getRow(pool, kind, tenantOf(req), params.id))) };
      },
    }),
    route({
      method: 'delete',
      path: `/v1/${path}/{id}/labels/{key}`,
      operationId: `delete-${noun}-label`,
      summary: `Remove one label of a ${noun}`,
      tag,
      auth: 'admin',
      params: z.strictObject({ id: Id, key: LabelKey }),
      responses: noContent,
      handle: async ({ req, params }) => {
        if (!(await deleteLabel(pool, kind, tenantOf(req), params.id, params.key))) throw notFound(`no such ${noun} or label`);
        return { status: 204 };
      },
    }),
  ];
}

/** The administrator API of the Director (API.md, Administrator). */
export function directorRoutes(pool: pg.Pool, membershipChanged: MembershipChanged = async () => undefined): Route[] {
  return [
    route({
      method: 'post',
      path: '/v1/applications',
      operationId: 'create-application',
      summary: 'Create an application (scenario DEFAULT when none are given)',
      tag: 'applications',
      auth: 'admin',
      body: NewApplication,
      responses: { 201: { description: 'Created', schema: Application } },
      handle: async ({ req, body }) => {
        const row = await createApplication(pool, tenantOf(req), body).catch((e: unknown) => refusal(e, 'application', body.name));
        return { status: 201, body: toApplication(row), headers: { location: `/v1/applications/${row.id}` } };
      },
    }),
    ...sharedRoutes(pool, 'application', membershipChanged),
    route({
      method: 'patch',
      path: '/v1/applications/{id}',
      operationId: 'update-application',
      summary: 'Change description, providerName or (all) labels of an application',
      tag: 'applications',
      auth: 'admin',
      params: IdParams,
      body: ApplicationPatch,
      responses: { 200: { description: 'Updated', schema: Application } },
      handle: async ({ req, params, body }) => ({
        status: 200,
        body: toApplication(found('application', await updateApplication(pool, tenantOf(req), params.id, body))),
      }),
    }),
    route({
      method: 'delete',
      path: '/v1/applications/{id}',
      operationId: 'delete-application',
      summary: 'Unregister an application: it is removed with its labels and memberships',
      tag: 'applications',
      auth: 'admin',
      params: IdParams,
      responses: { 202: { description: 'The unregistration operation', schema: Operation } },
      handle: async ({ req, params }) => ({
        status: 202,
        body: toOperation(found('application', await deleteApplication(pool, tenantOf(req), params.id))),
      }),
    }),
    ...sharedRoutes(pool, 'runtime', membershipChanged),
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
          const { rows } = await pool.query('INSERT INTO scenarios (tenant_id, name) VALUES ($1, $2) RETURNING name, created_at', [tenantOf(req), body.name]);
          return { status: 201, body: toScenario(rows[0]) };
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
        try {
          const { rowCount } = await pool.query('DELETE FROM scenarios WHERE tenant_id = $1 AND name = $2', [tenantOf(req), params.name]);
          if (!rowCount) throw notFound('no such scenario');
          return { status: 204 };
        } catch (error) {
          if (pgError(error)?.code !== FOREIGN_KEY_VIOLATION) throw error;
          const users = await scenarioUsers(pool, tenantOf(req), params.name);
          throw conflict(`scenario "${params.name}" is still used by ${users.join(', ')}`);
        }
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
        return { status: 200, body: toOperation(row) };
      },
    }),
  ];
}

