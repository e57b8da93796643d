import type pg from 'pg';
import { getRow, replaceLabels, replaceScenarios, type Labels, type Row } from './director.js';
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
}

/** Registers a runtime with its labels and scenarios in one transaction (the provisioning flow's first step). */
export async function createRuntime(pool: pg.Pool, tenantId: string, input: NewRuntime): Promise<Row> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      'INSERT INTO runtimes (tenant_id, name, description, provider, provider_config) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [tenantId, input.name, input.description ?? '', input.provider ?? 'local', JSON.stringify(input.providerConfig ?? {})],
    );
    const id = rows[0]!.id;
    await replaceLabels(client, 'runtime', id, input.labels ?? {});
    await replaceScenarios(client, 'runtime', tenantId, id, input.scenarios ?? []);
    return (await getRow(client, 'runtime', tenantId, id))!;
  });
}
