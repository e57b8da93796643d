import type pg from 'pg';
import { getRow, replaceLabels, replaceScenarios, type Labels, type Row } from './objects.js';
import { lockAssignments, syncAssignedScenarios } from './scenario-assignments.js';
import { withTransaction, type Db } from './tx.js';

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
  await lockAssignments(client, tenantId, 'shared');
  await syncAssignedScenarios(client, tenantId, [id]);
  return (await getRow(client, 'runtime', tenantId, id))!;
}

/** What the provisioning and agent flows need to know of a runtime. */
export interface RuntimeFacts {
  name: string;
  eventUrl: string | null;
  configVersion: number;
  pollIntervalSeconds: number;
}

/** Sets the runtime's condition and its message (cleared when none is given). */
export async function setRuntimeCondition(db: Db, id: string, condition: string, message: string | null = null, unlessIn: string[] = []): Promise<void> {
  await db.query(
    'UPDATE runtimes SET condition = $2, condition_message = $3, condition_updated_at = now(), updated_at = now() WHERE id = $1 AND NOT (condition = ANY($4))',
    [id, condition, message, unlessIn],
  );
}

/** The runtime's {@link RuntimeFacts}; undefined when it no longer exists. */
export async function runtimeFacts(db: Db, id: string): Promise<RuntimeFacts | undefined> {
  const { rows } = await db.query<{ name: string; event_url: string | null; config_version: string; poll_interval_seconds: number }>(
    'SELECT name, event_url, config_version, poll_interval_seconds FROM runtimes WHERE id = $1',
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { name: row.name, eventUrl: row.event_url, configVersion: Number(row.config_version), pollIntervalSeconds: row.poll_interval_seconds };
}

/**
 * Records the eventUrl the runtime's agent reported; a CONNECTING runtime becomes CONNECTED, a runtime
 * in any other condition but CONNECTED keeps it. False when the runtime is not the tenant's.
 */
export async function reportConnected(db: Db, tenantId: string, id: string, eventUrl: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE runtimes SET event_url = $3, updated_at = now(),
       condition = CASE WHEN condition IN ('CONNECTING', 'CONNECTED') THEN 'CONNECTED' ELSE condition END,
       condition_updated_at = CASE WHEN condition = 'CONNECTING' THEN now() ELSE condition_updated_at END
     WHERE id = $1 AND tenant_id = $2`,
    [id, tenantId, eventUrl],
  );
  return !!rowCount;
}

/** Removes the runtime with its labels and memberships (applications' configVersion moves with them). */
export async function deleteRuntime(db: Db, id: string): Promise<void> {
  await db.query('DELETE FROM runtimes WHERE id = $1', [id]);
}

/**
 * Records when these runtimes last called Meridian (runtime id → time), in one statement for many calls
 * (see services/last-seen.ts); a time never moves back; runtimes deleted meanwhile are skipped. The same
 * statement notes the flush in `runtime_call_recording`, even with nothing seen: after a gap of more than
 * `gapSeconds` since any API process's last flush, recording starts again from now (db/liveness.ts). Each
 * flush takes that one row first and writes runtimes in id order, so two API processes flushing at once
 * cannot deadlock.
 */
export async function markSeen(db: Db, seen: Map<string, Date>, gapSeconds = 45): Promise<void> {
  await db.query(
    `WITH recording AS (
       INSERT INTO runtime_call_recording AS c (id, since, flushed_at) VALUES (true, now(), now())
       ON CONFLICT (id) DO UPDATE
         SET since = CASE WHEN c.flushed_at < now() - make_interval(secs => $3) THEN now() ELSE c.since END, flushed_at = now()
       RETURNING since
     )
     INSERT INTO runtime_last_seen (runtime_id, seen_at)
     SELECT v.id, v.at FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at) JOIN runtimes r ON r.id = v.id
      WHERE EXISTS (SELECT FROM recording) ORDER BY v.id
     ON CONFLICT (runtime_id) DO UPDATE SET seen_at = GREATEST(runtime_last_seen.seen_at, EXCLUDED.seen_at)`,
    [[...seen.keys()], [...seen.values()], gapSeconds],
  );
}
