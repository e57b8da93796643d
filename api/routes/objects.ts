// What applications and runtimes share in the API: their common fields, the admin routes to list and
// get them and to change their labels and scenarios, and the caller's view of itself (mTLS).
import type { Request } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { configState, deleteLabel, getRow, listRows, setLabel, updateScenarios, type ObjectKind, type Row } from '../../db/objects.js';
import { CHECK_VIOLATION, UNIQUE_VIOLATION, pgError } from '../../db/tx.js';
import type { AuthorityWatch } from '../../trust/authorities.js';
import { tenantOf } from '../auth.js';
import { badRequest, conflict, notFound } from '../problems.js';
import { noContent, route, type Route } from '../route.js';
import { LABEL_REFUSAL, assertLabels } from './label-definitions.js';
import { ApplicationScenarioList, Id, IdParams, LabelKey, LabelValue, Labels, MAX_LABELS, PageQuery, ScenarioList, ScenarioName, Timestamp, pageOf } from '../schemas.js';

/** Fields of both applications and runtimes. */
export const objectFields = {
  id: z.uuid(),
  tenantId: z.uuid(),
  name: z.string(),
  description: z.string(),
  labels: Labels,
  scenarios: z.array(z.string()),
  /** Bumped whenever what this object should see changes (ETag source). */
  configVersion: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
};

/** The {@link objectFields} of a row of applications or runtimes. */
export function toObjectFields(row: Row) {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    description: row.description,
    labels: row.labels as z.infer<typeof Labels>,
    scenarios: row.scenarios,
    configVersion: Number(row.config_version),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** How one kind of object appears in the admin API: its collection path (also its tag), schema and converter. */
export interface ObjectApi {
  kind: ObjectKind;
  path: 'applications' | 'runtimes';
  schema: z.ZodType;
  toObject: (row: Row) => unknown;
}

/** Rows of another tenant and missing rows look the same: 404. */
export function found<T>(kind: ObjectKind, value: T | undefined): T {
  if (value === undefined) throw notFound(`no such ${kind}`);
  return value;
}

/** Maps a database refusal that means bad input to a problem in the words of the field at fault; rethrows anything else. */
export function asProblem(error: unknown, kind: ObjectKind, name?: string): never {
  const pg = pgError(error);
  if (pg?.code === UNIQUE_VIOLATION) throw conflict(`an ${kind} named "${name}" already exists in this tenant`);
  if (pg?.code === CHECK_VIOLATION && pg.constraint === 'applications_have_scenario') {
    throw badRequest('an application keeps at least one scenario', [{ path: 'scenarios', message: 'must not be empty for an application' }]);
  }
  throw error;
}

/** Called after a change of memberships commits, with the tenant (to announce new credential slots). */
export type MembershipChanged = (tenantId: string) => Promise<void>;

/** One `label` filter: a label key, then optionally `=` and a value. */
const LabelFilterText = z
  .string()
  .regex(/^[a-zA-Z0-9_]{1,256}(=[\s\S]*)?$/, 'must be key or key=value, the key 1-256 letters, digits or underscores')
  .meta({ description: 'key=value (value as JSON when it parses, else as a string) or key for presence' });

/** `label=key=value` (value as JSON when it parses, else as a string) or `label=key` for presence. */
const LabelFilter = z
  .union([LabelFilterText, z.array(LabelFilterText)])
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

/** List, get, labels and scenarios: the same for applications and runtimes. */
export function objectRoutes(pool: pg.Pool, { kind, path, schema, toObject }: ObjectApi, membershipChanged: MembershipChanged): Route[] {
  const tag = path;
  const noun = kind;
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
        return { status: 200, body: { items: page.items.map((row) => toObject(row)), nextCursor: page.nextCursor } };
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
      handle: async ({ req, params }) => ({ status: 200, body: toObject(found(kind, await getRow(pool, kind, tenantOf(req), params.id))) }),
    }),
    route({
      method: 'put',
      path: `/v1/${path}/{id}/scenarios`,
      operationId: `set-${noun}-scenarios`,
      summary: `Replace the scenarios of a ${noun}; every name must exist${kind === 'application' ? ', and at least one must remain' : '; scenarios an assignment gives stay while its label matches'}`,
      tag,
      auth: 'admin',
      params: IdParams,
      body: kind === 'application' ? ApplicationScenarioList : ScenarioList,
      responses: { 200: { description: `The ${noun} with its new scenarios`, schema } },
      handle: async ({ req, params, body }) => {
        const row = found(kind, await updateScenarios(pool, kind, tenantOf(req), params.id, body).catch((e: unknown) => asProblem(e, kind)));
        await membershipChanged(tenantOf(req));
        return { status: 200, body: toObject(row) };
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
      refusals: { ...LABEL_REFUSAL, 409: `A new key when the ${noun} has ${MAX_LABELS} labels already` },
      handle: async ({ req, params, body }) => {
        const outcome = await setLabel(pool, kind, tenantOf(req), params.id, params.key, body, MAX_LABELS, (db) => assertLabels(db, tenantOf(req), { [params.key]: body }));
        if (outcome === 'missing') throw notFound(`no such ${noun}`);
        if (outcome === 'full') throw conflict(`the ${noun} has ${MAX_LABELS} labels already; remove one first`);
        // A runtime's labels decide its assigned scenarios.
        if (kind === 'runtime') await membershipChanged(tenantOf(req));
        return { status: 200, body: toObject(found(kind, await getRow(pool, kind, tenantOf(req), params.id))) };
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
        if (kind === 'runtime') await membershipChanged(tenantOf(req));
        return { status: 204 };
      },
    }),
  ];
}

/** The calling application or runtime (mTLS); 404 when it was deleted meanwhile. */
export async function callerRow(pool: pg.Pool, kind: ObjectKind, req: Request): Promise<Row> {
  const row = await getRow(pool, kind, req.client!.tenantId, req.client!.id);
  if (!row) throw notFound(`the ${kind} no longer exists`);
  return row;
}

/** What every configuration tells its holder about Meridian's CAs (docs/api.md, "CA rotation"). */
export const TrustFields = {
  trustBundle: z.string().describe('PEM of every CA Meridian trusts (two while a rotation is under way): verify the mTLS listener with these'),
  issuingCa: z.string().describe('PEM of the CA that signs new certificates: a certificate it did not sign should be renewed (POST /connector/v1/certificates/renewals)'),
};

/** The {@link TrustFields} of the authorities this process works with now. */
export function trustOf(authorities: AuthorityWatch): { trustBundle: string; issuingCa: string } {
  const current = authorities.current();
  return { trustBundle: current.bundle, issuingCa: current.active.certPem };
}

/**
 * The caller's configVersion and its ETag; `unchanged` when the request's If-None-Match already names
 * it (answer 304); its condition, read with them. 404 when the caller was deleted meanwhile.
 */
export async function configurationTag(pool: pg.Pool, kind: ObjectKind, req: Request): Promise<{ version: number; etag: string; unchanged: boolean; condition: string }> {
  const state = await configState(pool, kind, req.client!.tenantId, req.client!.id);
  if (state === undefined) throw notFound(`the ${kind} no longer exists`);
  const etag = `"${state.version}"`;
  return { version: state.version, etag, unchanged: req.get('if-none-match') === etag, condition: state.condition };
}
