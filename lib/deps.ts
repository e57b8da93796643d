import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { ActivityDeps } from '../activities/index.js';
import { localProvider, type LocalRuntimes } from '../activities/providers/local.js';
import { simulatedProvider } from '../activities/providers/simulated.js';
import { loadOrCreateCa, type Ca } from './ca.js';
import type { Config } from './config.js';
import { loadKeyring, type Keyring } from './encryption.js';
import path from 'node:path';

/** The CA and the encryption keyring: loaded from configured files, or generated once into the data directory. */
export function loadTrust(config: Config): { ca: Ca; keyring: Keyring } {
  return { ca: loadOrCreateCa(config.ca), keyring: loadKeyring(config.dataDir, config.encryptionKey, config.previousEncryptionKeys) };
}

/** What the API and the worker both take from the configuration. */
export function sharedDeps(config: Config) {
  return {
    ...loadTrust(config),
    connector: config.connector,
    registration: config.registration,
    provisioning: config.provisioning,
    taskQueue: config.taskQueue,
    configHints: config.configHints,
  };
}

/** The public base URL runtimes and applications are told to use. */
export const publicUrl = (config: Config) => config.http.publicUrl ?? `http://localhost:${config.http.port}`;

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
