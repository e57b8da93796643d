import { z } from 'zod';
import { Problem } from './problems.js';
import type { Auth, Route } from './route.js';
import { refusals } from './schemas.js';
import { isShedable } from './shedding.js';

const SECURITY: Record<Auth, string> = {
  admin: 'adminToken',
  connector: 'connectorToken',
  application: 'clientCertificate',
  runtime: 'clientCertificate',
  client: 'clientCertificate',
};

/** Refusals (status → why) met while converting schemas, collected by {@link jsonSchema}. */
type Found = Map<number, string[]>;

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output', found?: Found) => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    override: ({ zodSchema }) => {
      const refusal = found && refusals.get(zodSchema as unknown as z.ZodType);
      if (!refusal) return;
      const reasons = found.get(refusal.status) ?? [];
      if (!reasons.includes(refusal.description)) found.set(refusal.status, [...reasons, refusal.description]);
    },
  }) as Record<string, unknown>;
  return rest;
};

/** A header's name as HTTP documents spell it: `if-none-match` → `If-None-Match`. */
const headerName = (name: string) => name.replace(/(^|-)[a-z]/g, (start) => start.toUpperCase());

function parameters(route: Route, found: Found) {
  const list: unknown[] = [];
  for (const [where, schema] of [['path', route.params], ['query', route.query], ['header', route.headers]] as const) {
    if (!(schema instanceof z.ZodObject)) continue;
    for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      const { description, ...fieldSchema } = jsonSchema(field, 'input', found);
      list.push({ name: where === 'header' ? headerName(name) : name, in: where, required: where === 'path' || !field.safeParse(undefined).success, ...(description !== undefined && { description }), schema: fieldSchema });
    }
  }
  return list;
}

const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });
/** Answers that tell the client when to come back (`Retry-After`, seconds). */
const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'string' } } };
const RETRIED = new Set([429, 503]);

/**
 * The problems an operation can answer with, whatever it does: a request that does not match this
 * document (400), missing or refused credentials (401, 403), a missing resource (404), a state the
 * write conflicts with (409), a body too large or not JSON (413, 415), the API process at its limit of
 * requests in flight (429, every path but the probes and metrics), a dependency unavailable (503).
 */
function standardProblems(route: Route): Record<number, string> {
  const hasInput = Boolean(route.params || route.query || route.body);
  const mtls = route.auth === 'application' || route.auth === 'runtime' || route.auth === 'client';
  const write = route.method !== 'get';
  const problems: Record<number, string> = {};
  if (hasInput) {
    problems[400] =
      'The request does not match this document (`errors` names each field), or its body is not valid JSON, holds a string with U+0000, or nests deeper than 64 levels';
  }
  if (route.auth) problems[401] = route.auth === 'admin' ? 'No valid admin token' : mtls ? 'No valid client certificate (missing, revoked, expired)' : 'No valid token';
  if (mtls) problems[403] = 'A client certificate of the other kind (application or runtime)';
  if (route.params || mtls) problems[404] = mtls ? 'No such resource of the caller, or the caller no longer exists' : 'No such resource in the tenant';
  if (write && route.auth) problems[409] = 'The request conflicts with the current state (a name taken, an operation in progress, something deleted meanwhile)';
  if (route.body) {
    problems[413] = 'The body is larger than 1 MiB';
    problems[415] = 'The body is not UTF-8 application/json';
  }
  if (isShedable(route.path)) {
    problems[429] = 'The API process is working on as many requests as it admits at once (MERIDIAN_MAX_REQUESTS_IN_FLIGHT); retry after `Retry-After` seconds';
  }
  if (route.auth) problems[503] = 'PostgreSQL or Temporal is unavailable; retry after `Retry-After` seconds';
  return problems;
}

/** The OpenAPI 3.1 document of `routes`, generated from the schemas that validate their requests. */
export function openApiDocument(routes: Route[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const found: Found = new Map();
    const parameterList = parameters(route, found);
    const requestBody = route.body && { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input', found) } } };
    for (const [status, reason] of Object.entries(route.refusals ?? {})) found.set(Number(status), [...(found.get(Number(status)) ?? []), reason]);

    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.schema && { content: { [spec.contentType ?? 'application/json']: { schema: jsonSchema(spec.schema, 'output') } } }),
        ...(spec.headers && { headers: Object.fromEntries(Object.entries(spec.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }])) }),
      };
    }
    const standard = standardProblems(route);
    for (const [status, description] of Object.entries(standard)) responses[status] ??= { ...problem(description), ...(RETRIED.has(Number(status)) && { headers: RETRY_AFTER }) };
    // A refusal of a request this document allows is marked, so a contract test can tell it from a mismatch.
    for (const [status, reasons] of found) {
      responses[status] = { ...problem([...reasons, ...(standard[status] ? [standard[status]] : [])].join('; ')), 'x-meridian-refusal': reasons };
    }
    (paths[route.path] ??= {})[route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      parameters: parameterList,
      ...(route.auth && { security: [{ [SECURITY[route.auth]]: [] }] }),
      ...(requestBody && { requestBody }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Meridian management plane',
      version,
      description:
        'REST contract of Meridian; see docs/api.md. A method a path does not list is answered 405 with `Allow`; OPTIONS answers 204 with `Allow`. ' +
        'Responses marked `x-meridian-refusal` answer requests this document allows, for the reasons listed (what a schema cannot express).',
    },
    paths,
    components: {
      schemas: { Problem: jsonSchema(Problem, 'output') },
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'Tenant-scoped admin token' },
        connectorToken: { type: 'apiKey', in: 'header', name: 'Connector-Token', description: 'One-time pairing or CSR token' },
        clientCertificate: { type: 'mutualTLS', description: 'Client certificate issued by the Meridian CA (mTLS listener)' },
      },
    },
  };
}

/** The document with paths that no route describes (the console's page) added. */
export function withPaths<T extends { paths: Record<string, unknown> }>(document: T, paths: Record<string, unknown>): T {
  return { ...document, paths: { ...document.paths, ...paths } };
}
