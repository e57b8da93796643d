// Label definitions (admin): the JSON Schema that labels with a key must satisfy, on every application
// and runtime of the tenant; and the check every label write makes against them.
import type pg from 'pg';
import { z } from 'zod';
import { deleteLabelDefinition, labelDefinitionsOf, labelsWithKey, listLabelDefinitions, lockLabelKeys, putLabelDefinition, type LabelDefinitionRow } from '../../db/label-definitions.js';
import { withTransaction, type Db } from '../../db/tx.js';
import { InvalidLabelSchema, compileLabelSchema, judgeLabel, labelViolations } from '../../services/label-rules.js';
import { tenantOf } from '../auth.js';
import { HttpProblem, badRequest, notFound } from '../problems.js';
import { noContent, route, type Route } from '../route.js';
import { LabelKey, Timestamp } from '../schemas.js';

/** Offenders a refused schema change names, at most. */
const OFFENDERS_NAMED = 5;

const JsonSchema = z
  .union([z.record(z.string(), z.unknown()), z.boolean()], { error: 'must be a JSON Schema (an object or a boolean)' })
  .meta({ description: 'JSON Schema draft 2020-12; no remote $ref' });

export const LabelDefinition = z.object({ key: z.string(), schema: JsonSchema, createdAt: Timestamp, updatedAt: Timestamp });

const toLabelDefinition = (row: LabelDefinitionRow): z.infer<typeof LabelDefinition> => ({
  key: row.key,
  schema: row.schema as z.infer<typeof JsonSchema>,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

/** `scenarios` is reserved: memberships are not labels but have their own endpoints (`PUT …/scenarios`). */
const KeyParams = z.strictObject({
  key: LabelKey.refine((key) => key !== 'scenarios', 'scenarios is reserved: memberships are set with PUT …/scenarios, not labels'),
});

/** The refusal of a route that checks labels against their definitions (in its OpenAPI entry). */
export const LABEL_REFUSAL = { 400: "A label value breaks its key's definition (errors name the path)" } as const;

/**
 * Refuses labels that break their key's definition in the tenant: 400 naming each path that failed.
 * Call it in the transaction that writes them (the keys stay locked until it ends).
 */
export async function assertLabels(db: Db, tenantId: string, labels: Record<string, unknown> | undefined): Promise<void> {
  if (!labels) return;
  const violations = await labelViolations(db, tenantId, labels);
  if (violations.length > 0) throw badRequest(`labels: ${violations.map((v) => `${v.path} ${v.message}`).join('; ')}`, violations);
}

/** `PUT/GET/DELETE /v1/label-definitions/{key}` and `GET /v1/label-definitions`. */
export function labelDefinitionRoutes(pool: pg.Pool): Route[] {
  return [
    route({
      method: 'get',
      path: '/v1/label-definitions',
      operationId: 'list-label-definitions',
      summary: "The tenant's label definitions, by key",
      tag: 'label-definitions',
      auth: 'admin',
      responses: { 200: { description: 'All of them', schema: z.object({ items: z.array(LabelDefinition), nextCursor: z.null() }) } },
      handle: async ({ req }) => ({ status: 200, body: { items: (await listLabelDefinitions(pool, tenantOf(req))).map(toLabelDefinition), nextCursor: null } }),
    }),
    route({
      method: 'get',
      path: '/v1/label-definitions/{key}',
      operationId: 'get-label-definition',
      summary: 'The definition of one label key',
      tag: 'label-definitions',
      auth: 'admin',
      params: KeyParams,
      responses: { 200: { description: 'The definition', schema: LabelDefinition } },
      handle: async ({ req, params }) => {
        const [row] = await labelDefinitionsOf(pool, tenantOf(req), [params.key]);
        if (!row) throw notFound('no definition of this label key');
        return { status: 200, body: toLabelDefinition(row) };
      },
    }),
    route({
      method: 'put',
      path: '/v1/label-definitions/{key}',
      operationId: 'put-label-definition',
      summary: 'Define (or redefine) the JSON Schema every label with this key must satisfy; refused while existing labels break it',
      tag: 'label-definitions',
      auth: 'admin',
      params: KeyParams,
      body: z.strictObject({ schema: JsonSchema }),
      responses: { 200: { description: 'The definition', schema: LabelDefinition } },
      refusals: { 400: 'The schema is not a JSON Schema 2020-12 Meridian runs (unknown keyword, remote $ref, a pattern not linear)', 409: 'Labels with this key that exist break the schema (a few are named)' },
      handle: async ({ req, params, body }) => {
        const tenantId = tenantOf(req);
        try {
          compileLabelSchema(body.schema);
        } catch (error) {
          if (error instanceof InvalidLabelSchema) throw badRequest(`schema: ${error.message}`, [{ path: 'schema', message: error.message }]);
          throw error;
        }
        // Labels with this key are judged and the definition stored with the key locked: no write of
        // such a label, checked against the old definition, commits in between.
        const row = await withTransaction(pool, async (client) => {
          await lockLabelKeys(client, tenantId, [params.key], 'exclusive');
          const offenders = (await labelsWithKey(client, tenantId, params.key)).flatMap((holder) => {
            const broken = judgeLabel(params.key, body.schema, holder.value);
            return broken ? [{ path: `${holder.kind}s/${holder.id} (${holder.name}): ${broken.path}`, message: broken.message }] : [];
          });
          if (offenders.length > 0) {
            const named = offenders.slice(0, OFFENDERS_NAMED);
            throw new HttpProblem(409, 'Conflict', `${offenders.length} existing label(s) ${params.key} break this schema; change them first: ${named.map((o) => `${o.path} ${o.message}`).join('; ')}`, named);
          }
          return putLabelDefinition(client, tenantId, params.key, body.schema);
        });
        return { status: 200, body: toLabelDefinition(row) };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/label-definitions/{key}',
      operationId: 'delete-label-definition',
      summary: 'Remove the definition of a label key: its labels are no longer checked',
      tag: 'label-definitions',
      auth: 'admin',
      params: KeyParams,
      responses: noContent,
      handle: async ({ req, params }) => {
        if (!(await deleteLabelDefinition(pool, tenantOf(req), params.key))) throw notFound('no definition of this label key');
        return { status: 204 };
      },
    }),
  ];
}
