import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { deleteDefinition, getDefinition, insertDefinition, listDefinitions, replaceDefinition, type DefinitionKind, type DefinitionRow, type DefinitionInput } from '../db/definitions.js';
import { insertOperation } from '../db/operations.js';
import { UNIQUE_VIOLATION, pgError, withTransaction } from '../db/tx.js';
import type { RegistrationConfig } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import type { Credentials } from '../db/credentials.js';
import { seal, type Keyring } from '../trust/encryption.js';
import { refusedLiteralHost } from '../lib/outbound.js';
import { SPEC_FORMATS } from '../specs/validate.js';
import { apiRegistration } from '../workflows/registration.js';
import { applicationAttributes } from '../workflows/ids.js';
import { conflict, notFound } from './problems.js';
import { route, type Route } from './route.js';
import { CredentialsBody, announcePendingSlots } from './credentials.js';
import { Description, HttpUrl, Id, IdParams, Timestamp } from './schemas.js';

export interface ApplicationRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  keyring: Keyring;
  registration: RegistrationConfig;
  logger: Logger;
}

/** A spec URL Meridian may fetch: http(s), and never a link-local or metadata address given literally. */
const FetchUrl = HttpUrl.refine((value) => !refusedLiteralHost(value), 'must not point at a link-local or metadata address');

const DefinitionName = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(/^[^\p{Cc}]+$/u, 'must be printable characters');

const specSchema = (types: readonly [string, ...string[]]) =>
  z
    .strictObject({
      type: z.enum(types, { error: `must be one of ${types.join(', ')}` }),
      format: z.enum(SPEC_FORMATS, { error: `must be one of ${SPEC_FORMATS.join(', ')}` }),
      data: z.string({ error: 'must be a string' }).min(1, 'must not be empty').optional(),
      fetchUrl: FetchUrl.optional(),
    })
    .refine((spec) => (spec.data === undefined) !== (spec.fetchUrl === undefined), {
      message: 'give exactly one of data and fetchUrl',
      path: ['data'],
    });

const KINDS = {
  API: {
    path: 'apis',
    noun: 'API',
    body: z.strictObject({
      name: DefinitionName,
      description: Description.optional(),
      targetUrl: HttpUrl,
      spec: specSchema(['OPENAPI', 'ODATA']).optional(),
      defaultCredentials: CredentialsBody.optional(),
    }),
  },
  EVENT: {
    path: 'events',
    noun: 'event',
    body: z.strictObject({ name: DefinitionName, description: Description.optional(), spec: specSchema(['ASYNCAPI']).optional() }),
  },
} as const;

export const Definition = z.object({
  id: z.uuid(),
  applicationId: z.uuid(),
  name: z.string(),
  description: z.string(),
  targetUrl: z.string().optional(),
  spec: z
    .object({
      type: z.string(),
      format: z.string(),
      fetchUrl: z.string().optional(),
      status: z.enum(['PENDING', 'SUCCEEDED', 'FAILED']),
      message: z.string().optional(),
    })
    .optional(),
  /** Whether new credential slots of this API are filled with its default credentials (never shown). */
  hasDefaultCredentials: z.boolean().optional(),
  operationId: z.uuid().optional(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

function toDefinition(row: DefinitionRow, operationId?: string): z.infer<typeof Definition> {
  return {
    id: row.id,
    applicationId: row.application_id,
    name: row.name,
    description: row.description,
    ...(row.target_url && { targetUrl: row.target_url }),
    ...(row.spec_type && {
      spec: {
        type: row.spec_type,
        format: row.spec_format!,
        ...(row.spec_fetch_url && { fetchUrl: row.spec_fetch_url }),
        status: row.spec_status as 'PENDING' | 'SUCCEEDED' | 'FAILED',
        ...(row.spec_message && { message: row.spec_message }),
      },
    }),
    ...(row.kind === 'API' && { hasDefaultCredentials: row.has_default_credentials }),
    ...(operationId && { operationId }),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export const Webhook = z.object({
  id: z.uuid(),
  applicationId: z.uuid(),
  type: z.literal('CONFIGURATION_CHANGED'),
  url: z.string(),
  hasSecret: z.boolean(),
  disabled: z.object({ at: Timestamp, reason: z.string() }).optional(),
  createdAt: Timestamp,
});

interface WebhookRow {
  id: string;
  application_id: string;
  type: 'CONFIGURATION_CHANGED';
  url: string;
  has_secret: boolean;
  disabled_at: Date | null;
  disabled_reason: string | null;
  created_at: Date;
}
const WEBHOOK_COLUMNS = 'id, application_id, type, url, secret_ciphertext IS NOT NULL AS has_secret, disabled_at, disabled_reason, created_at';

export const toWebhook = (row: WebhookRow): z.infer<typeof Webhook> => ({
  id: row.id,
  applicationId: row.application_id,
  type: row.type,
  url: row.url,
  hasSecret: row.has_secret,
  ...(row.disabled_at && { disabled: { at: row.disabled_at.toISOString(), reason: row.disabled_reason ?? '' } }),
  createdAt: row.created_at.toISOString(),
});

/** Webhooks of an application (or the one with `id`), never with their secrets. */
export async function listWebhooks(pool: pg.Pool, applicationId: string, id?: string): Promise<z.infer<typeof Webhook>[]> {
  const { rows } = await pool.query<WebhookRow>(
    `SELECT ${WEBHOOK_COLUMNS} FROM webhooks WHERE application_id = $1 AND ($2::uuid IS NULL OR id = $2) ORDER BY created_at, id`,
    [applicationId, id ?? null],
  );
  return rows.map(toWebhook);
}

/** What a paired application does with its own definitions and webhooks (mTLS, application certificates only). */
export function applicationRoutes(deps: ApplicationRouteDeps): Route[] {
  const { pool, temporal } = deps;
  const owner = (req: { client?: { id: string; tenantId: string } }, kind: DefinitionKind) => ({
    tenantId: req.client!.tenantId,
    applicationId: req.client!.id,
    kind,
  });

  /** Stores the definition and, with a spec, starts its registration and waits for it a little. */
  const register = async (kind: DefinitionKind, who: ReturnType<typeof owner>, body: Omit<DefinitionInput, 'defaultCredentials'> & { defaultCredentials?: Credentials }, id?: string) => {
    const input: DefinitionInput = { ...body, defaultCredentials: body.defaultCredentials && seal(deps.keyring, JSON.stringify(body.defaultCredentials)) };
    const stored = await withTransaction(pool, async (client) => {
      const row = id ? await replaceDefinition(client, who, id, input) : await insertDefinition(client, who, input);
      if (!row) throw notFound(`no such ${KINDS[kind].noun}`);
      const operation = input.spec
        ? await insertOperation(client, { tenantId: who.tenantId, type: 'API_REGISTRATION', resourceId: row.id, stage: 'VALIDATING', workflowId: `api-registration:${row.id}` })
        : undefined;
      return { row, operation };
    }).catch((error: unknown) => {
      if (pgError(error)?.code === UNIQUE_VIOLATION) throw conflict(`this application already has an ${KINDS[kind].noun} named "${input.name}"`);
      throw error;
    });
    await announcePendingSlots(deps, who.tenantId);
    if (!stored.operation) return { status: id ? 200 : 201, body: toDefinition(stored.row) };
    const handle = await temporal.workflow.start(apiRegistration, {
      workflowId: `api-registration:${stored.row.id}`,
      taskQueue: deps.taskQueue,
      args: [{ definitionId: stored.row.id, operationId: stored.operation.id }],
      workflowIdConflictPolicy: 'TERMINATE_EXISTING',
      typedSearchAttributes: applicationAttributes(who.tenantId, who.applicationId, 'VALIDATING'),
      staticSummary: `Fetch and validate the ${input.spec?.type ?? ''} spec of ${KINDS[kind].noun} "${stored.row.name}"`,
    });
    const finished = await Promise.race([handle.result().then(() => true), sleep(deps.registration.waitMs).then(() => false)]);
    const row = (await getDefinition(pool, who, stored.row.id)) ?? stored.row;
    return { status: finished ? (id ? 200 : 201) : 202, body: toDefinition(row, stored.operation.id) };
  };

  const definitionRoutes = (kind: DefinitionKind): Route[] => {
    const { path, noun, body } = KINDS[kind];
    const base = `/v1/application/${path}`;
    const responses = {
      201: { description: `Registered; spec.status is the validation result`, schema: Definition },
      202: { description: 'Still validating: poll the operation (operationId)', schema: Definition },
    };
    return [
      route({
        method: 'post',
        path: base,
        operationId: `register-${path}`,
        summary: `Register an ${noun} definition; the spec (inline or by fetchUrl) is validated before the answer when it is quick`,
        tag: 'application',
        auth: 'application',
        body,
        responses,
        handle: ({ req, body: input }) => register(kind, owner(req, kind), input),
      }),
      route({
        method: 'get',
        path: base,
        operationId: `list-${path}`,
        summary: `The caller's ${noun} definitions`,
        tag: 'application',
        auth: 'application',
        responses: { 200: { description: 'All of them', schema: z.object({ items: z.array(Definition), nextCursor: z.null() }) } },
        handle: async ({ req }) => ({ status: 200, body: { items: (await listDefinitions(pool, owner(req, kind))).map((r) => toDefinition(r)), nextCursor: null } }),
      }),
      route({
        method: 'get',
        path: `${base}/{id}`,
        operationId: `get-${noun.toLowerCase()}`,
        summary: `One of the caller's ${noun} definitions`,
        tag: 'application',
        auth: 'application',
        params: IdParams,
        responses: { 200: { description: 'The definition', schema: Definition } },
        handle: async ({ req, params }) => {
          const row = await getDefinition(pool, owner(req, kind), params.id);
          if (!row) throw notFound(`no such ${noun}`);
          return { status: 200, body: toDefinition(row) };
        },
      }),
      route({
        method: 'put',
        path: `${base}/{id}`,
        operationId: `replace-${noun.toLowerCase()}`,
        summary: `Replace an ${noun} definition (and validate its spec again)`,
        tag: 'application',
        auth: 'application',
        params: IdParams,
        body,
        responses: { 200: { description: 'Replaced', schema: Definition }, 202: responses[202] },
        handle: ({ req, params, body: input }) => register(kind, owner(req, kind), input, params.id),
      }),
      route({
        method: 'delete',
        path: `${base}/{id}`,
        operationId: `delete-${noun.toLowerCase()}`,
        summary: `Delete an ${noun} definition`,
        tag: 'application',
        auth: 'application',
        params: IdParams,
        responses: { 204: { description: 'Deleted' } },
        handle: async ({ req, params }) => {
          if (!(await deleteDefinition(pool, owner(req, kind), params.id))) throw notFound(`no such ${noun}`);
          return { status: 204 };
        },
      }),
    ];
  };

  const NewWebhook = z.strictObject({
    type: z.literal('CONFIGURATION_CHANGED', { error: 'must be CONFIGURATION_CHANGED' }),
    url: HttpUrl,
    secret: z.string({ error: 'must be a string' }).min(16, 'must be at least 16 characters').max(256, 'must be at most 256 characters').optional(),
  });

  return [
    ...definitionRoutes('API'),
    ...definitionRoutes('EVENT'),
    route({
      method: 'post',
      path: '/v1/application/webhooks',
      operationId: 'add-webhook',
      summary: 'Add a CONFIGURATION_CHANGED webhook; its secret signs deliveries and is never returned',
      tag: 'application',
      auth: 'application',
      body: NewWebhook,
      responses: { 201: { description: 'Added', schema: Webhook } },
      handle: async ({ req, body }) => {
        const sealed = body.secret === undefined ? undefined : seal(deps.keyring, body.secret);
        const { rows } = await pool.query<WebhookRow>(
          `INSERT INTO webhooks (tenant_id, application_id, type, url, secret_ciphertext, secret_key_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${WEBHOOK_COLUMNS}`,
          [req.client!.tenantId, req.client!.id, body.type, body.url, sealed?.ciphertext ?? null, sealed?.keyId ?? null],
        );
        return { status: 201, body: toWebhook(rows[0]!) };
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
      handle: async ({ req }) => ({ status: 200, body: { items: await listWebhooks(pool, req.client!.id), nextCursor: null } }),
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
        return { status: 200, body: found };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/application/webhooks/{id}',
      operationId: 'delete-own-webhook',
      summary: 'Remove one of the caller’s webhooks',
      tag: 'application',
      auth: 'application',
      params: z.strictObject({ id: Id }),
      responses: { 204: { description: 'Removed' } },
      handle: async ({ req, params }) => {
        const { rowCount } = await pool.query('DELETE FROM webhooks WHERE id = $1 AND application_id = $2', [params.id, req.client!.id]);
        if (!rowCount) throw notFound('no such webhook');
        return { status: 204 };
      },
    }),
  ];
}

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

/** What administrators see of an application's webhooks and its recent deliveries. */
export function adminWebhookRoutes(pool: pg.Pool): Route[] {
  const ownApplication = async (tenantId: string, id: string) => {
    const { rowCount } = await pool.query('SELECT 1 FROM applications WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    if (!rowCount) throw notFound('no such application');
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
        await ownApplication(req.tenant!.id, params.id);
        return { status: 200, body: { items: await listWebhooks(pool, params.id), nextCursor: null } };
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
      query: z.strictObject({ limit: z.coerce.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100').default(50) }),
      responses: { 200: { description: 'Recent deliveries', schema: z.object({ items: z.array(Delivery), nextCursor: z.null() }) } },
      handle: async ({ req, params, query }) => {
        await ownApplication(req.tenant!.id, params.id);
        const { rows } = await pool.query(
          `SELECT id, webhook_id AS "webhookId", event_id AS "eventId", event_type AS "eventType", state, attempts,
                  last_status AS "lastStatus", last_error AS "lastError", created_at AS "createdAt", updated_at AS "updatedAt"
           FROM deliveries WHERE application_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
          [params.id, query.limit],
        );
        return {
          status: 200,
          body: { items: rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() })), nextCursor: null },
        };
      },
    }),
  ];
}
