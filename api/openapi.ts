import { z } from 'zod';
import { Problem } from './problems.js';
import type { Auth, Route } from './route.js';

const SECURITY: Record<Auth, string> = {
  admin: 'adminToken',
  connector: 'connectorToken',
  application: 'clientCertificate',
  runtime: 'clientCertificate',
  client: 'clientCertificate',
};

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

function parameters(route: Route) {
  const list: unknown[] = [];
  for (const [where, schema] of [['path', route.params], ['query', route.query]] as const) {
    if (!(schema instanceof z.ZodObject)) continue;
    for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      list.push({ name, in: where, required: where === 'path' || !field.safeParse(undefined).success, schema: jsonSchema(field, 'input') });
    }
  }
  return list;
}

/** The OpenAPI 3.1 document of `routes`, generated from the schemas that validate their requests. */
export function openApiDocument(routes: Route[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.schema && { content: { [spec.contentType ?? 'application/json']: { schema: jsonSchema(spec.schema, 'output') } } }),
      };
    }
    responses.default = { description: 'An error', content: { 'application/problem+json': { schema: jsonSchema(Problem, 'output') } } };
    (paths[route.path] ??= {})[route.method] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      parameters: parameters(route),
      ...(route.auth && { security: [{ [SECURITY[route.auth]]: [] }] }),
      ...(route.body && { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } } }),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Meridian management plane', version, description: 'REST contract of Meridian; see docs/api.md.' },
    paths,
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'Tenant-scoped admin token' },
        connectorToken: { type: 'apiKey', in: 'header', name: 'Connector-Token', description: 'One-time pairing or CSR token' },
        clientCertificate: { type: 'mutualTLS', description: 'Client certificate issued by the Meridian CA (mTLS listener)' },
      },
    },
  };
}
