import fs from 'node:fs/promises';
import { Connection, Client } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_KEYS } from '../workflows/ids.js';
import type { Config } from './config.js';

/** Names of Meridian's typed search attributes, all Keyword; see docs/architecture.md. */
export const SEARCH_ATTRIBUTES = SEARCH_ATTRIBUTE_KEYS.map((key) => key.name);

/** Connection options for the configured Temporal frontend, with mTLS when configured. */
export async function connectionOptions(config: Pick<Config['temporal'], 'address' | 'tls'>) {
  const { tls } = config;
  if (!tls) return { address: config.address };
  const [crt, key, ca] = await Promise.all([
    fs.readFile(tls.certFile),
    fs.readFile(tls.keyFile),
    tls.caFile ? fs.readFile(tls.caFile) : undefined,
  ]);
  return {
    address: config.address,
    tls: { clientCertPair: { crt, key }, serverRootCACertificate: ca, serverNameOverride: tls.serverName },
  };
}

/** Connects a client to the configured namespace. */
export async function connectClient(config: Config['temporal']): Promise<Client> {
  const connection = await Connection.connect(await connectionOptions(config));
  return new Client({ connection, namespace: config.namespace });
}

/** The Temporal Web UI page of a workflow (its latest run), or undefined when no UI is configured. */
export function workflowPage(uiUrl: string | undefined, namespace: string, workflowId: string | null): string | undefined {
  if (!uiUrl || !workflowId) return undefined;
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** One MeridianStage a workflow entered, and when. */
export interface StageEntered {
  stage: string;
  at: string;
}

/**
 * The MeridianStage values of a workflow's history in order, each with the time of its event: the stage
 * it started with, then every upsert. This is the stage timeline the Temporal UI shows as events.
 */
type SearchAttributesEvent = { input?: { payloads?: Array<{ data?: Uint8Array | null }> | null } | null; searchAttributes?: { indexedFields?: Record<string, { data?: Uint8Array | null } | undefined> | null } | null } | null;
interface HistoryEvent {
  eventTime?: { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null;
  workflowExecutionStartedEventAttributes?: SearchAttributesEvent;
  upsertWorkflowSearchAttributesEventAttributes?: SearchAttributesEvent;
}

export function stageTimeline(history: { events?: unknown[] | null }, { upsertsOnly = false } = {}): StageEntered[] {
  const stages: StageEntered[] = [];
  for (const event of (history.events ?? []) as HistoryEvent[]) {
    const attributes = (!upsertsOnly && event.workflowExecutionStartedEventAttributes) || event.upsertWorkflowSearchAttributesEventAttributes;
    const field = attributes?.searchAttributes?.indexedFields?.MeridianStage;
    if (!field?.data) continue;
    const stage = JSON.parse(Buffer.from(field.data).toString('utf8')) as string;
    // A workflow that starts with its first stage may upsert it again: it entered it once.
    if (!upsertsOnly && stages.at(-1)?.stage === stage) continue;
    const time = event.eventTime;
    const seconds = time?.seconds && typeof time.seconds === 'object' ? time.seconds.toNumber() : Number(time?.seconds ?? 0);
    stages.push({ stage, at: new Date(seconds * 1000 + (time?.nanos ?? 0) / 1e6).toISOString() });
  }
  return stages;
}

/**
 * Whether this run was started for the operation: Meridian's operation workflows take `{operationId, …}` as
 * their first argument. A workflow id serves several operations over time (a new pairing, a registration
 * replaced), and a history read by id is its latest run's.
 */
export function startedFor(history: { events?: unknown[] | null }, operationId: string): boolean {
  const start = ((history.events ?? []) as HistoryEvent[])[0]?.workflowExecutionStartedEventAttributes;
  const data = start?.input?.payloads?.[0]?.data;
  if (!data) return false;
  try {
    return (JSON.parse(Buffer.from(data).toString('utf8')) as { operationId?: unknown }).operationId === operationId;
  } catch {
    return false;
  }
}
