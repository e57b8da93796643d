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
