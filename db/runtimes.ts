import type pg from 'pg';
import { getRow, replaceLabels, replaceScenarios, type Labels, type Row } from './objects.js';
import { withTransaction } from './tx.js';

export const PROVIDERS = ['local', 'simulated'] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface NewRuntime {
  name: string;
  description?: string;
  provider?: Provider;
  providerConfig?: Record<string, unknown>;
  labels?: Labels;
  /** A runtime may be in no scenario. */
  scenarios?: string[];
  /** How often its agent polls its configuration. @default 30 */
  pollIntervalSeconds?: number;
}

/** Registers a runtime with its labels and scenarios in one transaction (the provisioning flow's first step). */
export async function createRuntime(pool: pg.Pool, tenantId: string, input: NewRuntime): Promise<Row> {
  return withTransaction(pool, (client) => insertRuntime(client, tenantId, input));
}

/** {@link createRuntime} inside the caller's transaction. */
export async function insertRuntime(client: pg.PoolClient, tenantId: string, input: NewRuntime): Promise<Row> {
  const { rows } = await client.query<{ id: string }>(
    'INSERT INTO runtimes (tenant_id, name, description, provider, provider_config, poll_interval_seconds) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
    [tenantId, input.name, input.description ?? '', input.provider ?? 'local', JSON.stringify(input.providerConfig ?? {}), input.pollIntervalSeconds ?? 30],
  );
  const id = rows[0]!.id;
  await replaceLabels(client, 'runtime', id, input.labels ?? {});
  await replaceScenarios(client, 'runtime', tenantId, id, input.scenarios ?? []);
  return (await getRow(client, 'runtime', tenantId, id))!;
}
