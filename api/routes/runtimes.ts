// Runtimes as administrators manage them: created (provisioned) and deleted (deprovisioned) by workflows.
import { WorkflowNotFoundError, isGrpcDeadlineError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { getRow, type Row } from '../../db/objects.js';
import { insertOperation, type OperationRow } from '../../db/operations.js';
import { PROVIDERS, insertRuntime, type Provider } from '../../db/runtimes.js';
import { UNIQUE_VIOLATION, pgError, withTransaction } from '../../db/tx.js';
import type { ProvisioningConfig } from '../../lib/config.js';
import { deprovisioningStart, provisioningStart } from '../../services/workflow-starts.js';
import { DeprovisioningStage } from '../../workflows/deprovisioning.js';
import { agentStatus } from '../../workflows/agent.js';
import { workflowId } from '../../workflows/ids.js';
import { ProvisioningStage } from '../../workflows/provisioning.js';
import { tenantOf } from '../auth.js';
import { conflict, isUnavailable, notFound } from '../problems.js';
import { route, type Route } from '../route.js';
import { startRecorded } from '../starts.js';
import { Description, DnsName, IdParams, Labels, ScenarioList, Timestamp } from '../schemas.js';
import { objectFields, objectRoutes, toObjectFields, type MembershipChanged } from './objects.js';
import { LABEL_REFUSAL, assertLabels } from './label-definitions.js';
import { Operation, toOperation, workflowLink } from './operations.js';

export const Runtime = z.object({
  ...objectFields,
  provider: z.enum(PROVIDERS),
  status: z.object({
    condition: z
      .enum(['INITIAL', 'PROVISIONING', 'CONNECTING', 'CONNECTED', 'UNREACHABLE', 'FAILED', 'DEPROVISIONING'])
      .describe('UNREACHABLE: CONNECTED, then missed MERIDIAN_UNREACHABLE_AFTER_INTERVALS of its poll intervals (message: since when); CONNECTED again at its next call'),
    updatedAt: Timestamp,
    message: z.string().optional(),
  }),
  eventUrl: z.string().optional(),
  /** When the runtime last called Meridian (recorded every few seconds, not per call); null before its first call. */
  lastSeenAt: Timestamp.nullable(),
  /** Scenarios of `scenarios` an automatic assignment gives (its label matches); they stay while it does. */
  assignedScenarios: z.array(z.string()),
  /** Scenarios of `scenarios` given by hand (what PUT …/scenarios sets); a scenario may be in both lists. */
  scenariosByHand: z.array(z.string()),
});

/** The API object of a runtime row. */
export function toRuntime(row: Row): z.infer<typeof Runtime> {
  const message = row.condition_message as string | null;
  const eventUrl = row.event_url as string | null;
  return {
    ...toObjectFields(row),
    provider: row.provider as z.infer<typeof Runtime>['provider'],
    status: {
      condition: row.condition as z.infer<typeof Runtime>['status']['condition'],
      updatedAt: row.condition_updated_at.toISOString(),
      ...(message && { message }),
    },
    ...(eventUrl && { eventUrl }),
    lastSeenAt: row.last_seen_at instanceof Date ? row.last_seen_at.toISOString() : null,
    assignedScenarios: row.assigned_scenarios as string[],
    scenariosByHand: row.scenarios_by_hand as string[],
  };
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

/** A second operation while one runs is refused by the database's partial unique index. */
const busy = (error: unknown): never => {
  if (pgError(error)?.code === UNIQUE_VIOLATION && pgError(error)?.constraint === 'operations_one_in_progress_per_runtime') {
    throw conflict('another operation is in progress for this runtime');
  }
  throw error;
};

/** List, get, labels and scenarios of runtimes (admin). */
export function runtimeObjectRoutes(pool: pg.Pool, membershipChanged: MembershipChanged): Route[] {
  return objectRoutes(pool, { kind: 'runtime', path: 'runtimes', schema: Runtime, toObject: toRuntime }, membershipChanged);
}

export interface RuntimeRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  provisioning: ProvisioningConfig;
  temporalUiUrl?: string;
}

/** How long the agent's status query may take before the answer says it did not answer. */
const AGENT_QUERY_MS = 3_000;

const AGENT_STATES = ['RUNNING', 'NOT_ANSWERING', 'NOT_FOUND', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'CLOSED'] as const;

const AgentStatus = z.object({
  workflowId: z.string(),
  temporalUiUrl: z.url().optional(),
  state: z
    .enum(AGENT_STATES)
    .describe('RUNNING when its worker answered the status query; NOT_ANSWERING when it runs but no worker answered within 3 s (or the query failed); else how it closed (CLOSED: another way)'),
  design: z.enum(['watch', 'poll']).optional(),
  connected: z.boolean().optional(),
  appliedVersion: z.number().int().optional().describe('The configVersion the agent applied last'),
  lastFetchAt: Timestamp.optional(),
  certificateNotAfter: Timestamp.optional(),
  applies: z.number().int().optional(),
  renewals: z.number().int().optional(),
  consecutiveErrors: z.number().int().optional(),
});

/** What the runtime's agent workflow says of itself: its `status` query, read within {@link AGENT_QUERY_MS}. */
async function agentStatusOf(deps: RuntimeRouteDeps, runtimeId: string): Promise<z.infer<typeof AgentStatus>> {
  const id = workflowId.agent(runtimeId);
  const temporalUiUrl = workflowLink(deps)(id);
  const base = { workflowId: id, ...(temporalUiUrl && { temporalUiUrl }) };
  const handle = deps.temporal.workflow.getHandle(id);
  const description = await handle.describe().catch((error: unknown) => {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  });
  if (!description) return { ...base, state: 'NOT_FOUND' };
  const closed = AGENT_STATES.find((state) => state === description.status.name);
  if (description.status.name !== 'RUNNING') return { ...base, state: closed ?? 'CLOSED' };
  try {
    const s = await deps.temporal.connection.withDeadline(Date.now() + AGENT_QUERY_MS, () => handle.query(agentStatus));
    return {
      ...base,
      state: 'RUNNING',
      design: s.design ?? 'poll',
      connected: s.connected,
      ...(s.lastAppliedVersion !== undefined && { appliedVersion: s.lastAppliedVersion }),
      ...(s.lastFetchAt && { lastFetchAt: s.lastFetchAt }),
      ...(s.certificate && { certificateNotAfter: s.certificate.notAfter }),
      applies: s.applies,
      renewals: s.renewals,
      consecutiveErrors: s.consecutiveErrors,
    };
  } catch (error) {
    // Temporal itself answered describe(): no worker answered in time, or the query failed there.
    if (isUnavailable(error) && !isGrpcDeadlineError(error)) throw error;
    return { ...base, state: 'NOT_ANSWERING' };
  }
}

/**
 * Runtime creation and deletion (admin): each records its operation, starts its workflow and answers
 * with the operation; when Temporal is unavailable the answer is the same and the reconciler starts it.
 */
export function runtimeRoutes(deps: RuntimeRouteDeps): Route[] {
  const { pool, temporal } = deps;
  return [
    route({
      method: 'get',
      path: '/v1/runtimes/{id}/agent',
      operationId: 'get-runtime-agent',
      summary: "What the runtime's agent workflow reports: the configVersion it applied, its last fetch, its certificate's expiry",
      tag: 'runtimes',
      auth: 'admin',
      params: IdParams,
      responses: { 200: { description: 'The agent', schema: AgentStatus } },
      handle: async ({ req, params }) => {
        if (!(await getRow(pool, 'runtime', tenantOf(req), params.id))) throw notFound('no such runtime');
        return { status: 200, body: await agentStatusOf(deps, params.id) };
      },
    }),
    route({
      method: 'post',
      path: '/v1/runtimes',
      operationId: 'create-runtime',
      summary: 'Create a runtime: registers it and starts provisioning:<id>, which follows it until its agent is CONNECTED',
      tag: 'runtimes',
      auth: 'admin',
      body: NewRuntime,
      responses: { 202: { description: 'Provisioning started', schema: z.object({ runtime: Runtime, operation: Operation }) } },
      refusals: LABEL_REFUSAL,
      handle: async ({ req, body }) => {
        const tenantId = tenantOf(req);
        const { runtime, operation } = await withTransaction(pool, async (client) => {
          await assertLabels(client, tenantId, body.labels);
          const row = await insertRuntime(client, tenantId, body);
          const op = await insertOperation(client, {
            tenantId,
            type: 'PROVISIONING',
            resourceId: row.id,
            stage: ProvisioningStage.REGISTERING,
            workflowId: workflowId.provisioning(row.id),
          });
          return { runtime: row, operation: op };
        }).catch((error: unknown) => {
          if (pgError(error)?.code === UNIQUE_VIOLATION) throw conflict(`a runtime named "${body.name}" already exists in this tenant`);
          throw error;
        });
        const start = provisioningStart({
          taskQueue: deps.taskQueue,
          tenantId,
          runtimeId: runtime.id,
          runtimeName: runtime.name as string,
          provider: body.provider,
          operationId: operation.id,
          provisioning: deps.provisioning,
        });
        await startRecorded(temporal, start, req.log);
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
        const tenantId = tenantOf(req);
        const row = await getRow(pool, 'runtime', tenantId, params.id);
        if (!row) throw notFound('no such runtime');
        const operation: OperationRow = await insertOperation(pool, {
          tenantId,
          type: 'DEPROVISIONING',
          resourceId: row.id,
          stage: DeprovisioningStage.REVOKING,
          workflowId: workflowId.deprovisioning(row.id),
        }).catch(busy);
        const start = deprovisioningStart({
          taskQueue: deps.taskQueue,
          tenantId,
          runtimeId: row.id,
          runtimeName: row.name as string,
          provider: row.provider as Provider,
          operationId: operation.id,
          provisioning: deps.provisioning,
        });
        await startRecorded(temporal, start, req.log);
        return { status: 202, body: toOperation(operation) };
      },
    }),
  ];
}
