// Applications as administrators manage them: create, change, delete, and see their webhooks and deliveries.
import type pg from 'pg';
import { z } from 'zod';
import { applicationExists, createApplication, deleteApplication, updateApplication } from '../../db/applications.js';
import { recentDeliveries, type DeliveryRow } from '../../db/deliveries.js';
import type { Row } from '../../db/objects.js';
import { listWebhooks } from '../../db/webhooks.js';
import { tenantOf } from '../auth.js';
import { notFound } from '../problems.js';
import { route, type Route } from '../route.js';
import { Description, DnsName, IdParams, Labels, PageQuery, ScenarioList, Timestamp } from '../schemas.js';
import { Webhook, toWebhook } from './application/webhooks.js';
import { asProblem, found, objectFields, objectRoutes, toObjectFields, type MembershipChanged } from './objects.js';
import { Operation, toOperation } from './operations.js';

export const Application = z.object({
  ...objectFields,
  providerName: z.string().nullable(),
  status: z.object({ condition: z.enum(['INITIAL', 'PAIRING', 'CONNECTED', 'FAILED', 'DELETING']), updatedAt: Timestamp }),
});

/** The API object of an application row. */
export function toApplication(row: Row): z.infer<typeof Application> {
  return {
    ...toObjectFields(row),
    providerName: (row.provider_name as string | null) ?? null,
    status: { condition: row.condition as z.infer<typeof Application>['status']['condition'], updatedAt: row.condition_updated_at.toISOString() },
  };
}

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

export const Delivery = z.object({
  id: z.uuid(),
  webhookId: z.uuid(),
  eventId: z.string(),
  eventType: z.string(),
  state: z.enum(['PENDING', 'DELIVERED', 'FAILED']),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** The API object of a delivery row. */
const toDelivery = (row: DeliveryRow): z.infer<typeof Delivery> => ({
  id: row.id,
  webhookId: row.webhook_id,
  eventId: row.event_id,
  eventType: row.event_type,
  state: row.state,
  attempts: row.attempts,
  lastStatus: row.last_status,
  lastError: row.last_error,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
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
      handle: async ({ req, body }) => {
        const row = await createApplication(pool, tenantOf(req), body).catch((e: unknown) => asProblem(e, 'application', body.name));
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
  ];
}

/** What administrators see of an application's webhooks and its recent deliveries. */
export function adminWebhookRoutes(pool: pg.Pool): Route[] {
  const ownApplication = async (tenantId: string, id: string) => {
    if (!(await applicationExists(pool, tenantId, id))) throw notFound('no such application');
  };
  return [
    route({
      method: 'get',
      path: '/v1/applications/{id}/webhooks',
      operationId: 'list-application-webhooks',
      summary: "An application's webhooks (no secrets)",
      tag: 'applications',
      auth: 'admin',
      params: IdParams,
      responses: { 200: { description: 'All of them', schema: z.object({ items: z.array(Webhook), nextCursor: z.null() }) } },
      handle: async ({ req, params }) => {
        await ownApplication(tenantOf(req), params.id);
        return { status: 200, body: { items: (await listWebhooks(pool, params.id)).map(toWebhook), nextCursor: null } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/applications/{id}/deliveries',
      operationId: 'list-application-deliveries',
      summary: "An application's most recent webhook deliveries, newest first",
      tag: 'applications',
      auth: 'admin',
      params: IdParams,
      query: z.strictObject({ limit: PageQuery.limit }),
      responses: { 200: { description: 'Recent deliveries', schema: z.object({ items: z.array(Delivery), nextCursor: z.null() }) } },
      handle: async ({ req, params, query }) => {
        await ownApplication(tenantOf(req), params.id);
        return { status: 200, body: { items: (await recentDeliveries(pool, params.id, query.limit)).map(toDelivery), nextCursor: null } };
      },
    }),
  ];
}
