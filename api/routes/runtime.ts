// The runtime's own endpoints (mTLS, runtime certificates): itself, its configuration, its status reports.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { runtimeConfiguration, type ConfiguredApplication } from '../../db/configuration.js';
import { credentialsOfRuntime } from '../../db/credentials.js';
import { getRow } from '../../db/objects.js';
import { reportConnected } from '../../db/runtimes.js';
import { open, type Keyring } from '../../trust/encryption.js';
import { workflowId } from '../../workflows/ids.js';
import { agentConnected } from '../../workflows/provisioning.js';
import { notFound } from '../problems.js';
import { route, type Route } from '../route.js';
import { HttpUrl } from '../schemas.js';
import { CredentialsBody } from './application/credentials.js';
import { callerRow, configurationTag } from './objects.js';
import { Runtime, toRuntime } from './runtimes.js';

const RuntimeConfiguration = z.object({
  runtimeId: z.uuid(),
  configVersion: z.number().int(),
  applications: z.array(
    z.object({
      id: z.uuid(),
      name: z.string(),
      description: z.string(),
      apis: z.array(z.object({ id: z.uuid(), name: z.string(), targetUrl: z.string(), credentials: CredentialsBody.optional() })),
      events: z.array(z.object({ id: z.uuid(), name: z.string() })),
    }),
  ),
});

export interface OwnRuntimeRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  keyring: Keyring;
}

/** The applications a runtime sees, each of its APIs with the credentials set for this runtime, and only those, decrypted for it alone. */
async function configurationOf(deps: OwnRuntimeRouteDeps, tenantId: string, runtimeId: string) {
  const applications = await runtimeConfiguration(deps.pool, tenantId, runtimeId);
  const sealed = await credentialsOfRuntime(deps.pool, runtimeId);
  const withCredentials = (api: ConfiguredApplication['apis'][number]) => {
    const secret = sealed.get(api.id);
    return secret ? { ...api, credentials: JSON.parse(open(deps.keyring, secret)) as unknown } : api;
  };
  return applications.map((application) => ({ ...application, apis: application.apis.map(withCredentials) }));
}

/** `GET /v1/runtime`, its configuration and `PUT /v1/runtime/status` (mTLS, runtime certificates). */
export function ownRuntimeRoutes(deps: OwnRuntimeRouteDeps): Route[] {
  const { pool, temporal } = deps;
  return [
    route({
      method: 'get',
      path: '/v1/runtime',
      operationId: 'get-own-runtime',
      summary: 'The calling runtime (mTLS)',
      tag: 'runtime',
      auth: 'runtime',
      responses: { 200: { description: 'The caller', schema: Runtime } },
      handle: async ({ req }) => ({ status: 200, body: toRuntime(await callerRow(pool, 'runtime', req)) }),
    }),
    route({
      method: 'get',
      path: '/v1/runtime/configuration',
      operationId: 'get-runtime-configuration',
      summary: 'Applications sharing a scenario with the caller, their APIs and events; ETag is the configVersion (If-None-Match → 304)',
      tag: 'runtime',
      auth: 'runtime',
      responses: { 200: { description: 'The configuration', schema: RuntimeConfiguration }, 304: { description: 'Unchanged since the ETag' } },
      handle: async ({ req }) => {
        const { tenantId, id } = req.client!;
        const { version, etag, unchanged } = await configurationTag(pool, 'runtime', req);
        if (unchanged) return { status: 304, headers: { etag } };
        return { status: 200, headers: { etag }, body: { runtimeId: id, configVersion: version, applications: await configurationOf(deps, tenantId, id) } };
      },
    }),
    route({
      method: 'put',
      path: '/v1/runtime/status',
      operationId: 'report-runtime-status',
      summary: 'The agent reports CONNECTED and its eventUrl; the first report makes the runtime ready',
      tag: 'runtime',
      auth: 'runtime',
      body: z.strictObject({ condition: z.literal('CONNECTED', { error: 'must be CONNECTED' }), eventUrl: HttpUrl, gatewayUrl: HttpUrl.optional() }),
      responses: { 200: { description: 'The runtime', schema: Runtime } },
      handle: async ({ req, body }) => {
        const { tenantId, id } = req.client!;
        if (!(await reportConnected(pool, tenantId, id, body.eventUrl))) throw notFound('the runtime no longer exists');
        await temporal.workflow
          .getHandle(workflowId.provisioning(id))
          .signal(agentConnected, { eventUrl: body.eventUrl })
          .catch((error: unknown) => {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          });
        return { status: 200, body: toRuntime((await getRow(pool, 'runtime', tenantId, id))!) };
      },
    }),
  ];
}
