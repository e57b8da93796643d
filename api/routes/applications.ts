// Applications as administrators manage them: create, change, delete (what they read of one: application-reads.ts).
import type pg from 'pg';
import { z } from 'zod';
import { deleteApplication, insertApplication, updateApplication } from '../../db/applications.js';
import { withTransaction } from '../../db/tx.js';
import type { Row } from '../../db/objects.js';
import { tenantOf } from '../auth.js';
import { route, type Route } from '../route.js';
import { Description, DnsName, IdParams, Labels, ScenarioList, Timestamp } from '../schemas.js';
import { asProblem, found, objectFields, objectRoutes, toObjectFields, type MembershipChanged } from './objects.js';
import { LABEL_REFUSAL, assertLabels } from './label-definitions.js';
import { Operation, toOperation } from './operations.js';

export const Application = z.object({
  ...objectFields,
  providerName: z.string().nullable(),
  status: z.object({
    condition: z
      .enum(['INITIAL', 'PAIRING', 'CONNECTED', 'DISCONNECTED', 'FAILED', 'DELETING'])
      .describe('DISCONNECTED: every client certificate of the application expired or was revoked (not by its unregistration); CONNECTED again once it is paired again'),
    updatedAt: Timestamp,
    message: z.string().optional().describe('DISCONNECTED: what happened to its certificate, and the command that pairs it again'),
  }),
});

/** The API object of an application row. */
export function toApplication(row: Row): z.infer<typeof Application> {
  return {
    ...toObjectFields(row),
    providerName: (row.provider_name as string | null) ?? null,
    status: {
      condition: row.condition as z.infer<typeof Application>['status']['condition'],
      updatedAt: row.condition_updated_at.toISOString(),
      // Shown while it explains the condition (a pairing started from DISCONNECTED makes it stale).
      ...(row.condition === 'DISCONNECTED' && typeof row.condition_message === 'string' && { message: row.condition_message }),
    },
  };
}

export const NewApplication = z.strictObject({
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

/** The administrator's application routes (docs/api.md, Administrator): create, list/get/labels/scenarios, change, delete. */
export function applicationRoutes(pool: pg.Pool, membershipChanged: MembershipChanged): Route[] {
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
      refusals: LABEL_REFUSAL,
      handle: async ({ req, body }) => {
        const row = await withTransaction(pool, async (client) => {
          await assertLabels(client, tenantOf(req), body.labels);
          return insertApplication(client, tenantOf(req), body);
        }).catch((e: unknown) => asProblem(e, 'application', body.name));
        return { status: 201, body: toApplication(row), headers: { location: `/v1/applications/${row.id}` } };
      },
    }),
    ...objectRoutes(pool, { kind: 'application', path: 'applications', schema: Application, toObject: toApplication }, membershipChanged),
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
      refusals: LABEL_REFUSAL,
      handle: async ({ req, params, body }) => {
        const row = await updateApplication(pool, tenantOf(req), params.id, body, (db) => assertLabels(db, tenantOf(req), body.labels));
        return { status: 200, body: toApplication(found('application', row)) };
      },
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
  ];
}
