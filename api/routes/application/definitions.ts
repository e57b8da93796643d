// API and event definitions of the calling application (mTLS), with their specs validated by a workflow.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Request } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import type { Credentials } from '../../../db/credentials.js';
import {
  defaultCredentialsBinding,
  deleteDefinition,
  getDefinition,
  insertDefinition,
  listDefinitions,
  lockAndCountDefinitions,
  replaceDefinition,
  type DefinitionInput,
  type DefinitionKind,
  type DefinitionRow,
} from '../../../db/definitions.js';
import { insertOperation, supersedeRegistrations, type OperationRow } from '../../../db/operations.js';
import { UNIQUE_VIOLATION, pgError, withTransaction, type Db } from '../../../db/tx.js';
import type { RegistrationConfig } from '../../../lib/config.js';
import type { Logger } from '../../../lib/logger.js';
import { refusedLiteralHost } from '../../../lib/outbound.js';
import { announcePendingSlots } from '../../../services/announcements.js';
import { SPEC_FORMATS } from '../../../specs/validate.js';
import { seal, type Keyring } from '../../../trust/encryption.js';
import { registrationStart } from '../../../services/workflow-starts.js';
import { workflowId } from '../../../workflows/ids.js';
import { RegistrationStage } from '../../../workflows/registration.js';
import { conflict, notFound } from '../../problems.js';
import { route, type Reply, type Route } from '../../route.js';
import { startRecorded } from '../../starts.js';
import { Description, HttpUrl, IdParams, Timestamp } from '../../schemas.js';
import { CredentialsBody } from './credentials.js';

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

/** The two kinds of definition: where they live under /v1/application, their noun and their request body. */
export const DEFINITION_KINDS = {
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

/** The API object of a definition row, with the operation validating its spec when there is one. */
export function toDefinition(row: DefinitionRow, operationId?: string): z.infer<typeof Definition> {
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

export interface DefinitionRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  keyring: Keyring;
  registration: RegistrationConfig;
  logger: Logger;
}

/** Whose definitions of which kind: an application of a tenant, its APIs or its events. */
export type DefinitionOwner = { tenantId: string; applicationId: string; kind: DefinitionKind };
/** A definition as a request gives it: its default credentials in the clear, sealed when stored. */
export type DefinitionBody = Omit<DefinitionInput, 'defaultCredentials'> & { defaultCredentials?: Credentials };
/** A definition as stored, with the API_REGISTRATION operation validating its spec when it has one. */
export interface StoredDefinition {
  row: DefinitionRow;
  operation?: OperationRow;
}

/** The calling application's definitions of one kind. */
const ownerOf = (req: Request, kind: DefinitionKind): DefinitionOwner => ({ tenantId: req.client!.tenantId, applicationId: req.client!.id, kind });

/** Refuses a new definition of an application that has as many as MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION; holds the application's lock until commit. */
async function refuseBeyondDefinitionLimit(client: Db, who: DefinitionOwner, limit: number): Promise<void> {
  const count = await lockAndCountDefinitions(client, who.applicationId);
  if (count >= limit) {
    throw conflict(`this application has ${count} API and event definitions, the limit (MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION = ${limit}); delete one before registering another`);
  }
}

/**
 * Stores a new definition (or replaces the one with `id`) in the caller's transaction: its default
 * credentials sealed for its row, a new one refused beyond the application's limit, a validation in
 * flight superseded, and with a spec an API_REGISTRATION operation, whose workflow
 * {@link startRegistration} starts once the transaction commits. A taken name is a unique violation.
 */
export async function storeDefinition(
  client: Db,
  deps: Pick<DefinitionRouteDeps, 'keyring' | 'registration'>,
  who: DefinitionOwner,
  body: DefinitionBody,
  id?: string,
): Promise<StoredDefinition> {
  // A new definition's id is chosen here: its default credentials are sealed for it.
  const definitionId = id ?? randomUUID();
  const defaultCredentials = body.defaultCredentials && seal(deps.keyring, JSON.stringify(body.defaultCredentials), defaultCredentialsBinding(who.tenantId, definitionId));
  const input: DefinitionInput = { ...body, defaultCredentials };
  if (!id) await refuseBeyondDefinitionLimit(client, who, deps.registration.maxDefinitionsPerApplication);
  const row = id ? await replaceDefinition(client, who, id, input) : await insertDefinition(client, who, input, definitionId);
  if (!row) throw notFound(`no such ${DEFINITION_KINDS[who.kind].noun}`);
  // A replacement supersedes a validation in flight (its workflow is replaced when the new one starts).
  if (id) await supersedeRegistrations(client, row.id);
  const operation = input.spec
    ? await insertOperation(client, {
        tenantId: who.tenantId,
        type: 'API_REGISTRATION',
        resourceId: row.id,
        stage: RegistrationStage.VALIDATING,
        workflowId: workflowId.registration(row.id),
      })
    : undefined;
  return { row, operation };
}

/**
 * Starts the registration workflow of a definition's committed operation. Undefined when Temporal is
 * unavailable: the operation is recorded and the reconciler starts it.
 */
export function startRegistration(deps: Pick<DefinitionRouteDeps, 'temporal' | 'taskQueue' | 'logger'>, who: DefinitionOwner, row: DefinitionRow, operation: OperationRow) {
  const start = registrationStart({
    taskQueue: deps.taskQueue,
    tenantId: who.tenantId,
    applicationId: who.applicationId,
    definitionId: row.id,
    operationId: operation.id,
    noun: DEFINITION_KINDS[who.kind].noun,
    name: row.name,
    specType: row.spec_type,
  });
  return startRecorded(deps.temporal, start, deps.logger);
}

/** Stores the definition and, with a spec, starts its registration and waits for it a little. */
async function register(deps: DefinitionRouteDeps, who: DefinitionOwner, body: DefinitionBody, id?: string): Promise<Reply> {
  const { pool, temporal } = deps;
  const stored = await withTransaction(pool, (client) => storeDefinition(client, deps, who, body, id)).catch((error: unknown) => {
    if (pgError(error)?.code === UNIQUE_VIOLATION) throw conflict(`this application already has an ${DEFINITION_KINDS[who.kind].noun} named "${body.name}"`);
    throw error;
  });
  await announcePendingSlots(deps, who.tenantId);
  if (!stored.operation) return { status: id ? 200 : 201, body: toDefinition(stored.row) };
  // Temporal unavailable: the registration is recorded and the reconciler starts it; answer 202 with the operation.
  const handle = await startRegistration(deps, who, stored.row, stored.operation);
  if (!handle) return { status: 202, body: toDefinition(stored.row, stored.operation.id) };
  // A result Temporal cannot give now (unavailable meanwhile) is a 202 too: the operation tells the rest.
  // The wait for the result ends with the answer: its own deadline, not the request's.
  const result = temporal.connection.withDeadline(Date.now() + deps.registration.waitMs + 1_000, () => handle.result());
  const finished = await Promise.race([result.then(() => true, () => false), sleep(deps.registration.waitMs).then(() => false)]);
  const row = (await getDefinition(pool, who, stored.row.id)) ?? stored.row;
  return { status: finished ? (id ? 200 : 201) : 202, body: toDefinition(row, stored.operation.id) };
}

/** Register, list, get, replace and delete the caller's definitions of one kind (mTLS, application certificates). */
function routesOf(deps: DefinitionRouteDeps, kind: DefinitionKind): Route[] {
  const { pool } = deps;
  const { path, noun, body } = DEFINITION_KINDS[kind];
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
      refusals: { 409: `the application has an ${noun} of that name, or as many API and event definitions as allowed (MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION, default 200)` },
      handle: ({ req, body: input }) => register(deps, ownerOf(req, kind), input),
    }),
    route({
      method: 'get',
      path: base,
      operationId: `list-${path}`,
      summary: `The caller's ${noun} definitions`,
      tag: 'application',
      auth: 'application',
      responses: { 200: { description: 'All of them', schema: z.object({ items: z.array(Definition), nextCursor: z.null() }) } },
      handle: async ({ req }) => ({ status: 200, body: { items: (await listDefinitions(pool, ownerOf(req, kind))).map((r) => toDefinition(r)), nextCursor: null } }),
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
        const row = await getDefinition(pool, ownerOf(req, kind), params.id);
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
      handle: ({ req, params, body: input }) => register(deps, ownerOf(req, kind), input, params.id),
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
        if (!(await deleteDefinition(pool, ownerOf(req, kind), params.id))) throw notFound(`no such ${noun}`);
        return { status: 204 };
      },
    }),
  ];
}

/** The caller's API definitions, then its event definitions. */
export function definitionRoutes(deps: DefinitionRouteDeps): Route[] {
  return [...routesOf(deps, 'API'), ...routesOf(deps, 'EVENT')];
}
