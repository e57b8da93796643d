import type { Config } from '../lib/config.js';
import { loadOrCreateCa, type Ca } from './ca.js';
import { loadKeyring, type Keyring } from './encryption.js';

/** The CA and the encryption keyring: loaded from configured files, or generated once into the data directory. */
export function loadTrust(config: Config): { ca: Ca; keyring: Keyring } {
  return { ca: loadOrCreateCa(config.ca), keyring: loadKeyring(config.dataDir, config.encryptionKey, config.previousEncryptionKeys) };
}

/** What the API and the worker both take from the configuration: trust material and flow settings. */
export function sharedDeps(config: Config) {
  return {
    ...loadTrust(config),
    connector: config.connector,
    registration: config.registration,
    provisioning: config.provisioning,
    taskQueue: config.taskQueue,
    configHints: config.configHints,
    // Watching agents hear changes through their long poll; only polling ones need a signal each.
    configSignals: config.provisioning.agentDesign === 'poll',
  };
}

/** What only the API takes from the configuration (beside {@link sharedDeps}). */
export function apiSettings(config: Config) {
  return {
    trustProxy: config.http.trustProxy,
    temporalUiUrl: config.temporal.uiUrl,
    runtimeStaleSeconds: config.runtimeStaleSeconds,
    maxRequestsInFlight: config.maxRequestsInFlight,
  };
}
