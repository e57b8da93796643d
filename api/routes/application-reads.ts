// What administrators read of one application beyond the object itself: its API and event definitions
// with their spec status, webhooks (no secrets), recent deliveries and credential slots (never the values).
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { applicationExists } from '../../db/applications.js';
import { listDefinitions } from '../../db/definitions.js';
import { recentDeliveries, type DeliveryRow } from '../../db/deliveries.js';
import { listWebhooks } from '../../db/webhooks.js';
import { tenantOf } from '../auth.js';
import { notFound } from '../problems.js';
import { route, type Route } from '../route.js';
import { IdParams, PageQuery, Timestamp } from '../schemas.js';
import { SlotPage, SlotPageQuery, slotPage } from './application/credentials.js';
import { DEFINITION_KINDS, Definition, toDefinition } from './application/definitions.js';
import { Webhook, toWebhook } from './application/webhooks.js';
import { workflowLink, type WorkflowLink } from './operations.js';
import { workflowId } from '../../workflows/ids.js';

export const Delivery = z.object({
  id: z.uuid(),
  webhookId: z.uuid(),
  eventId: z.string(),
  eventType: z.string(),
  state: z.enum(['PENDING', 'DELIVERED', 'FAILED']),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  /** How often it was redelivered, and the workflow of the latest redelivery (`redelivery:…` or `redeliveries:…`). */
  redeliveries: z.number().int(),
  redeliveryWorkflowId: z.string().nullable(),
  /** The page of its notification workflow (`notify:<applicationId>:<eventId>`) in the Temporal UI, when one is configured. */
  temporalUiUrl: z.url().optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** The API object of a delivery row of the application, linked to its notification workflow when `link` is given (administrators). */
export const toDelivery = (row: DeliveryRow, applicationId: string, link?: WorkflowLink): z.infer<typeof Delivery> => {
  const temporalUiUrl = link?.(workflowId.notify(applicationId, row.event_id));
  return {
    id: row.id,
    webhookId: row.webhook_id,
    eventId: row.event_id,
    eventType: row.event_type,
    state: row.state,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    redeliveries: row.redeliveries,
    redeliveryWorkflowId: row.redelivery_workflow_id,
    ...(temporalUiUrl && { temporalUiUrl }),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
};

/** The administrator's reads of an application's definitions, webhooks, deliveries and credential slots. */
export function applicationReadRoutes(deps: { pool: pg.Pool; temporal: Client; temporalUiUrl?: string }): Route[] {
  const { pool } = deps;
  const link = workflowLink(deps);
  const ownApplication = async (tenantId: string, id: string) => {
    if (!(await applicationExists(pool, tenantId, id))) throw notFound('no such application');
  };
  const definitionRoute = (kind: 'API' | 'EVENT') =>
    route({
      method: 'get',
      path: `/v1/applications/{id}/${DEFINITION_KINDS[kind].path}`,
      operationId: `list-application-${DEFINITION_KINDS[kind].path}`,
      summary: `An application's ${DEFINITION_KINDS[kind].noun} definitions with their spec status and message`,
      tag: 'applications',
      auth: 'admin',
      params: IdParams,
      responses: { 200: { description: 'All of them', schema: z.object({ items: z.array(Definition), nextCursor: z.null() }) } },
      handle: async ({ req, params }) => {
        await ownApplication(tenantOf(req), params.id);
        return { status: 200, body: { items: (await listDefinitions(pool, { applicationId: params.id, kind })).map((row) => toDefinition(row)), nextCursor: null } };
      },
    });
  return [
    definitionRoute('API'),
    definitionRoute('EVENT'),
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
        return { status: 200, body: { items: (await recentDeliveries(pool, params.id, query.limit)).map((row) => toDelivery(row, params.id, link)), nextCursor: null } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/applications/{id}/credentials',
      operationId: 'list-application-credential-slots',
      summary: "An application's credential slots by API and runtime, with their status; never the secret values",
      tag: 'applications',
      auth: 'admin',
      params: IdParams,
      query: SlotPageQuery,
      responses: { 200: { description: 'A page of slots', schema: SlotPage } },
      handle: async ({ req, params, query }) => {
        await ownApplication(tenantOf(req), params.id);
        return { status: 200, body: await slotPage(pool, params.id, query) };
      },
    }),
  ];
}
