import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { configVersion, getRow } from '../db/objects.js';
import { insertOperation, type OperationRow } from '../db/operations.js';
import { PROVIDERS, insertRuntime } from '../db/runtimes.js';
import { credentialsOfRuntime } from '../db/credentials.js';
import { UNIQUE_VIOLATION, pgError, withTransaction } from '../db/tx.js';
import { open, type Keyring } from '../trust/encryption.js';
import { CredentialsBody } from './credentials.js';
import type { ProvisioningConfig } from '../lib/config.js';
import { deprovisioning } from '../workflows/deprovisioning.js';
import { agentConnected, provisioning } from '../workflows/provisioning.js';
import { MeridianRuntimeId, MeridianStage, MeridianTenant } from '../workflows/ids.js';
import { Operation, Runtime, toOperation, toRuntime } from './objects.js';
import { conflict, notFound } from './problems.js';
import { route, type Route } from './route.js';
import { Description, DnsName, HttpUrl, IdParams, Labels, ScenarioList } from './schemas.js';

export interface RuntimeRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  provisioning: ProvisioningConfig;
  keyring: Keyring;
}

const NewRuntime = z.strictObject({
  name: DnsName,
  description: Description.optional(),
  labels: Labels.optional(),
  scenarios: ScenarioList.optional(),
  provider: z.enum(PROVIDERS, { error: `must be one of ${PROVIDERS.join(', ')}` }).default('local'),
  providerConfig: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
  pollIntervalSeconds: z.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be 1-3600').max(3600, 'must be 1-3600').optional(),
});

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

const attributes = (tenantId: string, runtimeId: string, stage: string) => [
  { key: MeridianTenant, value: tenantId },
  { key: MeridianRuntimeId, value: runtimeId },
  { key: MeridianStage, value: stage },
];

/** A second operation while one runs is refused by the database's partial unique index. */
const busy = (error: unknown): never => {
  if (pgError(error)?.code === UNIQUE_VIOLATION && pgError(error)?.constraint === 'operations_one_in_progress_per_runtime') {
    throw conflict('another operation is in progress for this runtime');
  }
  throw error;
};

/** Runtime creation and deletion (admin) and the runtime's own endpoints (mTLS, runtime certificates). */
export function runtimeRoutes(deps: RuntimeRouteDeps): Route[] {
  const { pool, temporal } = deps;
  return [
    route({
      method: 'post',
      path: '/v1/runtimes',
      operationId: 'create-runtime',
      summary: 'Create a runtime: registers it and starts provisioning:<id>, which follows it until its agent is CONNECTED',
      tag: 'runtimes',
      auth: 'admin',
      body: NewRuntime,
      responses: { 202: { description: 'Provisioning started', schema: z.object({ runtime: Runtime, operation: Operation }) } },
      handle: async ({ req, body }) => {
        const tenantId = req.tenant!.id;
        const { runtime, operation } = await withTransaction(pool, async (client) => {
          const row = await insertRuntime(client, tenantId, body);
          const op = await insertOperation(client, { tenantId, type: 'PROVISIONING', resourceId: row.id, stage: 'REGISTERING', workflowId: `provisioning:${row.id}` });
          return { runtime: row, operation: op };
        }).catch((error: unknown) => {
          if (pgError(error)?.code === UNIQUE_VIOLATION) throw conflict(`a runtime named "${body.name}" already exists in this tenant`);
          throw error;
        });
        await temporal.workflow.start(provisioning, {
          workflowId: `provisioning:${runtime.id}`,
          taskQueue: deps.taskQueue,
          args: [{ tenantId, runtimeId: runtime.id, provider: body.provider, operationId: operation.id, ...deps.provisioning }],
          typedSearchAttributes: attributes(tenantId, runtime.id, 'REGISTERING'),
          staticSummary: `Provision runtime "${runtime.name}" (${body.provider}) until its agent is CONNECTED`,
        });
        return { status: 202, body: { runtime: toRuntime(runtime), operation: toOperation(operation) }, headers: { location: `/v1/runtimes/${runtime.id}` } };
      },
    }),
    route({
      method: 'delete',
      path: '/v1/runtimes/{id}',
      operationId: 'delete-runtime',
      summary: 'Deprovision a runtime: certificates revoked, agent stopped, runtime removed, applications notified',
      tag: 'runtimes',
      auth: 'admin',
      params: IdParams,
      responses: { 202: { description: 'Deprovisioning started', schema: Operation } },
      handle: async ({ req, params }) => {
        const tenantId = req.tenant!.id;
        const row = await getRow(pool, 'runtime', tenantId, params.id);
        if (!row) throw notFound('no such runtime');
        const operation: OperationRow = await insertOperation(pool, {
          tenantId,
          type: 'DEPROVISIONING',
          resourceId: row.id,
          stage: 'REVOKING',
          workflowId: `deprovisioning:${row.id}`,
        }).catch(busy);
        await temporal.workflow.start(deprovisioning, {
          workflowId: `deprovisioning:${row.id}`,
          taskQueue: deps.taskQueue,
          args: [{ tenantId, runtimeId: row.id, provider: row.provider as (typeof PROVIDERS)[number], operationId: operation.id }],
          workflowIdConflictPolicy: 'USE_EXISTING',
          typedSearchAttributes: attributes(tenantId, row.id, 'REVOKING'),
          staticSummary: `Deprovision runtime "${row.name}": revoke, stop the agent, remove, notify`,
        });
        return { status: 202, body: toOperation(operation) };
      },
    }),
    route({
      method: 'get',
      path: '/v1/runtime',
      operationId: 'get-own-runtime',
      summary: 'The calling runtime (mTLS)',
      tag: 'runtime',
      auth: 'runtime',
      responses: { 200: { description: 'The caller', schema: Runtime } },
      handle: async ({ req }) => {
        const row = await getRow(pool, 'runtime', req.client!.tenantId, req.client!.id);
        if (!row) throw notFound('the runtime no longer exists');
        return { status: 200, body: toRuntime(row) };
      },
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
        const version = await configVersion(pool, 'runtime', tenantId, id);
        if (version === undefined) throw notFound('the runtime no longer exists');
        const etag = `"${version}"`;
        if (req.get('if-none-match') === etag) return { status: 304, headers: { etag } };
        const { rows } = await pool.query(
          `SELECT a.id, a.name, a.description,
             COALESCE((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name, 'targetUrl', d.target_url) ORDER BY d.created_at, d.id)
                       FROM definitions d WHERE d.application_id = a.id AND d.kind = 'API'), '[]') AS apis,
             COALESCE((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name) ORDER BY d.created_at, d.id)
                       FROM definitions d WHERE d.application_id = a.id AND d.kind = 'EVENT'), '[]') AS events
           FROM applications a
           WHERE a.tenant_id = $1 AND a.id IN (
             SELECT am.application_id FROM runtime_scenarios rm
             JOIN application_scenarios am ON am.tenant_id = rm.tenant_id AND am.scenario = rm.scenario
             WHERE rm.runtime_id = $2)
           ORDER BY a.name`,
          [tenantId, id],
        );
        // The credentials set for this runtime, and only those, decrypted for it alone.
        const sealed = await credentialsOfRuntime(pool, id);
        for (const application of rows as Array<{ apis: Array<{ id: string; credentials?: unknown }> }>) {
          for (const apiDef of application.apis) {
            const secret = sealed.get(apiDef.id);
            if (secret) apiDef.credentials = JSON.parse(open(deps.keyring, secret)) as unknown;
          }
        }
        return { status: 200, headers: { etag }, body: { runtimeId: id, configVersion: version, applications: rows } };
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
        const { rowCount } = await pool.query(
          `UPDATE runtimes SET event_url = $3, updated_at = now(),
             condition = CASE WHEN condition IN ('CONNECTING', 'CONNECTED') THEN 'CONNECTED' ELSE condition END,
             condition_updated_at = CASE WHEN condition = 'CONNECTING' THEN now() ELSE condition_updated_at END
           WHERE id = $1 AND tenant_id = $2`,
          [id, tenantId, body.eventUrl],
        );
        if (!rowCount) throw notFound('the runtime no longer exists');
        await temporal.workflow
          .getHandle(`provisioning:${id}`)
          .signal(agentConnected, { eventUrl: body.eventUrl })
          .catch((error: unknown) => {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          });
        return { status: 200, body: toRuntime((await getRow(pool, 'runtime', tenantId, id))!) };
      },
    }),
  ];
}
