import { z } from 'zod';
import type { Row } from '../db/objects.js';
import { OPERATION_STATES, OPERATION_TYPES, type OperationRow } from '../db/operations.js';
import { PROVIDERS } from '../db/runtimes.js';
import type { ScenarioRow } from '../db/scenarios.js';
import { Labels, Timestamp } from './schemas.js';

/** Converters from database rows to the API objects of API.md, with the schemas that describe them. */

const common = {
  id: z.uuid(),
  tenantId: z.uuid(),
  name: z.string(),
  description: z.string(),
  labels: Labels,
  scenarios: z.array(z.string()),
  /** Bumped whenever what this object should see changes (ETag source). */
  configVersion: z.number().int(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
};

export const Application = z.object({
  ...common,
  providerName: z.string().nullable(),
  status: z.object({ condition: z.enum(['INITIAL', 'PAIRING', 'CONNECTED', 'FAILED', 'DELETING']), updatedAt: Timestamp }),
});

export const Runtime = z.object({
  ...common,
  provider: z.enum(PROVIDERS),
  status: z.object({
    condition: z.enum(['INITIAL', 'PROVISIONING', 'CONNECTING', 'CONNECTED', 'FAILED', 'DEPROVISIONING']),
    updatedAt: Timestamp,
    message: z.string().optional(),
  }),
  eventUrl: z.string().optional(),
});

export const Operation = z.object({
  id: z.uuid(),
  type: z.enum(OPERATION_TYPES),
  state: z.enum(OPERATION_STATES),
  stage: z.string(),
  message: z.string().optional(),
  resourceId: z.uuid(),
  workflowId: z.string().nullable(),
  startedAt: Timestamp,
  finishedAt: Timestamp.optional(),
});

export const Scenario = z.object({ name: z.string(), createdAt: Timestamp });

function commonFields(row: Row) {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    description: row.description,
    labels: row.labels as z.infer<typeof Labels>,
    scenarios: row.scenarios,
    configVersion: Number(row.config_version),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toApplication(row: Row): z.infer<typeof Application> {
  return {
    ...commonFields(row),
    providerName: (row.provider_name as string | null) ?? null,
    status: { condition: row.condition as z.infer<typeof Application>['status']['condition'], updatedAt: row.condition_updated_at.toISOString() },
  };
}

export function toRuntime(row: Row): z.infer<typeof Runtime> {
  const message = row.condition_message as string | null;
  const eventUrl = row.event_url as string | null;
  return {
    ...commonFields(row),
    provider: row.provider as z.infer<typeof Runtime>['provider'],
    status: {
      condition: row.condition as z.infer<typeof Runtime>['status']['condition'],
      updatedAt: row.condition_updated_at.toISOString(),
      ...(message && { message }),
    },
    ...(eventUrl && { eventUrl }),
  };
}

export function toOperation(row: OperationRow): z.infer<typeof Operation> {
  return {
    id: row.id,
    type: row.type,
    state: row.state,
    stage: row.stage,
    ...(row.message && { message: row.message }),
    resourceId: row.resource_id,
    workflowId: row.workflow_id,
    startedAt: row.started_at.toISOString(),
    ...(row.finished_at && { finishedAt: row.finished_at.toISOString() }),
  };
}

export const toScenario = (row: ScenarioRow): z.infer<typeof Scenario> => ({ name: row.name, createdAt: row.created_at.toISOString() });
