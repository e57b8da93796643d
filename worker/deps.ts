import path from 'node:path';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { ActivityDeps } from '../activities/index.js';
import { localProvider, type LocalRuntimes } from '../activities/providers/local.js';
import { simulatedProvider } from '../activities/providers/simulated.js';
import { publicUrl, type Config } from '../lib/config.js';
import { sharedDeps } from '../trust/load.js';

/** Runtime providers by name; local runtimes live under `<data>/runtimes`, simulated ones under `<data>/simulated`. */
export function createProviders(dataDir: string, temporal: { address: string; namespace: string }, hostQueue?: string): ActivityDeps['providers'] & { local: LocalRuntimes } {
  const local = localProvider({ root: path.join(dataDir, 'runtimes'), temporal: { address: temporal.address, namespace: temporal.namespace } });
  return { local, simulated: simulatedProvider({ root: path.join(dataDir, 'simulated'), taskQueue: hostQueue }) };
}

/** Everything the management-plane worker's activities need. */
export function activityDeps(config: Config, pool: pg.Pool, temporal: Client): ActivityDeps & { providers: { local: LocalRuntimes } } {
  return {
    pool,
    temporal,
    ...sharedDeps(config),
    providers: createProviders(config.dataDir, config.temporal),
    publicUrl: () => publicUrl(config),
  };
}
