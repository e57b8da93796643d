import { loadOrCreateCa, type Ca } from './ca.js';
import type { Config } from './config.js';
import { loadKeyring, type Keyring } from './encryption.js';

/** The CA and the encryption keyring: loaded from configured files, or generated once into the data directory. */
export function loadTrust(config: Config): { ca: Ca; keyring: Keyring } {
  return { ca: loadOrCreateCa(config.ca), keyring: loadKeyring(config.dataDir, config.encryptionKey) };
}
