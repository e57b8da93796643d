// Webhooks of the calling application (mTLS): where Meridian delivers its configuration.changed events.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { withTransaction, type Db } from '../../../db/tx.js';
import { deleteWebhook, insertWebhook, listWebhooks, lockAndCountWebhooks, webhookSecretBinding, type WebhookRow } from '../../../db/webhooks.js';
import type { RegistrationConfig } from '../../../lib/config.js';
import { refusedLiteralHost } from '../../../lib/outbound.js';
import { seal, type Keyring } from '../../../trust/encryption.js';
import { conflict, notFound } from '../../problems.js';
import { route, type Route } from '../../route.js';
import { HttpUrl, IdParams, Timestamp } from '../../schemas.js';

export const Webhook = z.object({
  id: z.uuid(),
  applicationId: z.uuid(),
  type: z.literal('CONFIGURATION_CHANGED'),
  url: z.string(),
  hasSecret: z.boolean(),
  disabled: z.object({ at: Timestamp, reason: z.string() }).optional(),
  createdAt: Timestamp,
});

/** The API object of a webhook row (never its secret). */
export const toWebhook = (row: WebhookRow): z.infer<typeof Webhook> => ({
  id: row.id,
  applicationId: row.application_id,
  type: row.type,
  url: row.url,
  hasSecret: row.has_secret,
  ...(row.disabled_at && { disabled: { at: row.disabled_at.toISOString(), reason: row.disabled_reason ?? '' } }),
  createdAt: row.created_at.toISOString(),
});

/** A literal IP that is never called is refused here; host names and private addresses are checked at each delivery (lib/outbound.ts). */
const WebhookUrl = HttpUrl.refine((value) => !refusedLiteralHost(value), 'must not point at a link-local, metadata or reserved address');

export const NewWebhook = z.strictObject({
  type: z.literal('CONFIGURATION_CHANGED', { error: 'must be CONFIGURATION_CHANGED' }),
  url: WebhookUrl,
  secret: z.string({ error: 'must be a string' }).min(16, 'must be at least 16 characters').max(256, 'must be at most 256 characters').optional(),
});

export interface WebhookRouteDeps {
  pool: pg.Pool;
  keyring: Keyring;
  /** Its maxWebhooksPerApplication bounds each application's webhooks. */
  registration: RegistrationConfig;
}

/**
 * Adds a webhook to an application in the caller's transaction, its secret sealed for its row; refused
 * with 409 when the application has `limit` webhooks (its lock, held until commit, makes concurrent
 * additions count one after the other).
 */
export async function addWebhook(
  client: Db,
  keyring: Keyring,
  limit: number,
  owner: { tenantId: string; applicationId: string },
  body: z.infer<typeof NewWebhook>,
): Promise<WebhookRow> {
  const id = randomUUID();
  const secret = body.secret === undefined ? undefined : seal(keyring, body.secret, webhookSecretBinding(owner.tenantId, id));
  const count = await lockAndCountWebhooks(client, owner.applicationId);
  if (count >= limit) {
    throw conflict(`this application has ${count} webhooks, the limit (MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION = ${limit}); remove one before adding another`);
  }
  return insertWebhook(client, { id, ...owner, type: body.type, url: body.url, secret });
}

/** Add, list, get and remove the caller's webhooks (mTLS, application certificates). */
export function webhookRoutes({ pool, keyring, registration }: WebhookRouteDeps): Route[] {
  const limit = registration.maxWebhooksPerApplication;
  return [
    route({
      method: 'post',
      path: '/v1/application/webhooks',
      operationId: 'add-webhook',
      summary: 'Add a CONFIGURATION_CHANGED webhook; its secret signs deliveries and is never returned',
      tag: 'application',
      auth: 'application',
      body: NewWebhook,
      responses: { 201: { description: 'Added', schema: Webhook } },
      refusals: { 409: 'the application has as many webhooks as allowed (MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION, default 20)' },
      handle: async ({ req, body }) => {
        const owner = { tenantId: req.client!.tenantId, applicationId: req.client!.id };
        const row = await withTransaction(pool, (client) => addWebhook(client, keyring, limit, owner, body));
        return { status: 201, body: toWebhook(row) };
      },
    }),
    route({
      method: 'get',
      path: '/v1/application/webhooks',
      operationId: 'list-own-webhooks',
      summary: "The caller's webhooks (no secrets)",
      tag: 'application',
      auth: 'application',
      responses: { 200: { description: 'All of them', schema: z.object({ items: z.array(Webhook), nextCursor: z.null() }) } },
      handle: async ({ req }) => ({ status: 200, body: { items: (await listWebhooks(pool, req.client!.id)).map(toWebhook), nextCursor: null } }),
    }),
    route({
      method: 'get',
      path: '/v1/application/webhooks/{id}',
      operationId: 'get-own-webhook',
      summary: 'One of the caller’s webhooks (no secret)',
      tag: 'application',
      auth: 'application',
      params: IdParams,
      responses: { 200: { description: 'The webhook', schema: Webhook } },
      handle: async ({ req, params }) => {
        const [found] = await listWebhooks(pool, req.client!.id, params.id);
        if (!found) throw notFound('no such webhook');
        return { status: 200, body: toWebhook(found) };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/application/webhooks/{id}',
      operationId: 'delete-own-webhook',
      summary: 'Remove one of the caller’s webhooks',
      tag: 'application',
      auth: 'application',
      params: IdParams,
      responses: { 204: { description: 'Removed' } },
      handle: async ({ req, params }) => {
        if (!(await deleteWebhook(pool, req.client!.id, params.id))) throw notFound('no such webhook');
        return { status: 204 };
      },
    }),
  ];
}
