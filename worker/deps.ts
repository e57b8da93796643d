import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { ActivityDeps } from '../activities/index.js';
import { localProvider, type LocalRuntimes } from '../activities/providers/local.js';
import { simulatedProvider } from '../activities/providers/simulated.js';
import { publicUrl, type Config, type OutboundConfig } from '../lib/config.js';
import { sharedDeps } from '../trust/load.js';
import type { LocalRuntimeConfig } from '../runtime/files.js';

/**
 * Runtime providers by name; local runtimes live under `<data>/runtimes`, simulated ones under `<data>/simulated`.
 * A local runtime's gateway calls APIs under `outbound` (simulated ones under their runtime host's).
 */
export function createProviders(
  dataDir: string,
  temporal: LocalRuntimeConfig['temporal'],
  options: { hostQueue?: string; outbound: OutboundConfig },
): ActivityDeps['providers'] & { local: LocalRuntimes } {
  const local = localProvider({ root: path.join(dataDir, 'runtimes'), temporal: { address: temporal.address, namespace: temporal.namespace, tls: temporal.tls }, outbound: options.outbound });
  return { local, simulated: simulatedProvider({ root: path.join(dataDir, 'simulated'), taskQueue: options.hostQueue }) };
}

/** Everything the management-plane worker's activities need. */
export function activityDeps(config: Config, pool: pg.Pool, temporal: Client): ActivityDeps & { providers: { local: LocalRuntimes } } {
  return {
    pool,
    temporal,
    ...sharedDeps(config),
    outbound: config.outbound,
    credentialSlots: config.credentialSlots,
    audit: config.audit,
    liveness: config.liveness,
    providers: createProviders(config.dataDir, config.temporal, { outbound: config.outbound }),
    publicUrl: () => publicUrl(config),
  };
}
