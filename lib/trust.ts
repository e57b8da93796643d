import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import type { ActivityDeps } from '../activities/index.js';
import { localProvider } from '../activities/providers/local.js';
import type { RuntimeProvider } from '../activities/providers/provider.js';
import { loadOrCreateCa, type Ca } from './ca.js';
import type { Config } from './config.js';
import { loadKeyring, type Keyring } from './encryption.js';
import path from 'node:path';

/** The CA and the encryption keyring: loaded from configured files, or generated once into the data directory. */
export function loadTrust(config: Config): { ca: Ca; keyring: Keyring } {
  return { ca: loadOrCreateCa(config.ca), keyring: loadKeyring(config.dataDir, config.encryptionKey) };
}

/** What the API and the worker both take from the configuration. */
export function sharedDeps(config: Config) {
  return {
    ...loadTrust(config),
    connector: config.connector,
    registration: config.registration,
    provisioning: config.provisioning,
    taskQueue: config.taskQueue,
  };
}

/** The public base URL runtimes and applications are told to use. */
export const publicUrl = (config: Config) => config.http.publicUrl ?? `http://localhost:${config.http.port}`;

/** A provider this build does not have: provisioning with it fails with that reason, and compensates. */
function unavailable(name: string): RuntimeProvider {
  const refuse = async (): Promise<never> => {
    throw ApplicationFailure.nonRetryable(`the ${name} runtime provider is not available in this build`, 'ProviderUnavailable');
  };
  return { taskQueue: () => 'runtime-host', provision: refuse, inject: refuse, status: refuse, deprovision: async () => undefined };
}

/** Runtime providers by name; local runtimes live under `<data>/runtimes`. */
export function createProviders(dataDir: string, temporal: { address: string; namespace: string }): ActivityDeps['providers'] {
  const local: RuntimeProvider = localProvider({ root: path.join(dataDir, 'runtimes'), temporal: { address: temporal.address, namespace: temporal.namespace } });
  return { local, simulated: unavailable('simulated') };
}

/** Everything the management-plane worker's activities need. */
export function activityDeps(config: Config, pool: pg.Pool, temporal: Client): ActivityDeps {
  return {
    pool,
    temporal,
    ...sharedDeps(config),
    providers: createProviders(config.dataDir, config.temporal),
    publicUrl: () => publicUrl(config),
  };
}
