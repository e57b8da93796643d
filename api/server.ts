import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Express } from 'express';
import type { Logger } from '../lib/logger.js';
import { createApp, type ApiDeps } from './app.js';
import { LastSeen } from '../services/last-seen.js';
import { ConfigHints } from '../services/config-hints.js';
import { ConfigWaiters } from '../services/config-waiters.js';
import { RevocationList, serverCredentials } from './mtls.js';
import { AuthorityWatch, type Authorities } from '../trust/authorities.js';

export interface RunningServer {
  host: string;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * Listens on host:port (0 for an ephemeral port) and returns the bound address. Once listening, server
 * errors (accept failures such as EMFILE) are logged, never left unhandled.
 */
async function bind(server: Server, scheme: 'http' | 'https', host: string, port: number, logger?: Logger): Promise<RunningServer> {
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.on('error', (error: Error) => logger?.warn({ err: error.message, scheme, port }, 'API listener error'));
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `${scheme}://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${address.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        // Connections close once idle: at once, or as soon as their request in flight is answered; all after 5 s.
        const idle = setInterval(() => server.closeIdleConnections(), 50).unref();
        server.close(() => {
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 5_000).unref();
      }),
  };
}

export const listen = (app: Express, host: string, port: number, logger?: Logger) => bind(createServer(app), 'http', host, port, logger);

export interface ApiListeners {
  host: string;
  port: number;
  mtlsPort: number;
  /** Names and IPs in the mTLS server certificate. */
  tlsHostnames: string[];
  /** Announced base URLs; derived from the bound ports when unset. */
  publicUrl?: string;
  mtlsUrl?: string;
}

export interface RunningApi {
  http: RunningServer;
  mtls: RunningServer;
  urls: { public: string; mtls: string };
  /** Configuration requests this API holds now (`Prefer: wait`). */
  waiters: ConfigWaiters;
  stop(): Promise<void>;
}

/**
 * The mTLS listener's TLS settings for a set of authorities: every trusted CA verifies client certificates,
 * and the server certificate (a fresh key, made once per signing CA) comes from the CA every holder trusts.
 */
function secureContextOf(hostnames: string[]): (authorities: Authorities) => { key: string; cert: string; ca: string[] } {
  let server: { by: string; credentials: { key: string; cert: string } } | undefined;
  return (authorities) => {
    if (server?.by !== authorities.server.fingerprint) server = { by: authorities.server.fingerprint, credentials: serverCredentials(authorities.server, hostnames) };
    return { ...server.credentials, ca: authorities.trusted };
  };
}

/**
 * The API on its two listeners: public HTTP (admins, token holders) and mTLS (paired applications and
 * runtimes, client certificates verified against the Meridian CA, revocations honoured).
 */
export async function startApi(deps: ApiDeps, listeners: ApiListeners): Promise<RunningApi> {
  const revocations = await RevocationList.load(deps.pool, deps.logger);
  const authorities = await AuthorityWatch.load(deps.pool, deps.ca, deps.keyring, deps.logger).catch((error: unknown) => {
    revocations.stop();
    throw error;
  });
  let urls = { public: '', mtls: '' };
  const waiters = new ConfigWaiters();
  deps.metrics.countHeldBy(() => waiters.held);
  const lastSeen = new LastSeen(deps.pool, deps.logger, deps.lastSeenFlushMs);
  const app = createApp({ ...deps, revocations, authorities, urls: () => urls, waiters, lastSeen });
  const started: RunningServer[] = [];
  let hints: ConfigHints | undefined;
  try {
    started.push(await listen(app, listeners.host, listeners.port, deps.logger));
    const tlsContext = secureContextOf(listeners.tlsHostnames);
    const tlsServer = createTlsServer({ ...tlsContext(authorities.current()), requestCert: true, rejectUnauthorized: false }, app);
    // A rotation's phase: new connections are verified against the new trust (and see the new server certificate).
    authorities.onChange((current) => tlsServer.setSecureContext(tlsContext(current)));
    started.push(await bind(tlsServer, 'https', listeners.host, listeners.mtlsPort, deps.logger));
    hints = deps.configHints === false ? undefined : await ConfigHints.start(deps.pool, deps.temporal, deps.logger, { waiters, signalAgents: deps.configSignals ?? true });
  } catch (error) {
    // Half started (a port taken, PostgreSQL gone): release what was bound before failing.
    revocations.stop();
    authorities.stop();
    await Promise.all([...started.map((server) => server.stop()), lastSeen.stop()]);
    throw error;
  }
  const [http, mtls] = started as [RunningServer, RunningServer];
  urls = {
    public: listeners.publicUrl ?? `http://localhost:${http.port}`,
    mtls: listeners.mtlsUrl ?? `https://localhost:${mtls.port}`,
  };
  return {
    http,
    mtls,
    urls,
    waiters,
    async stop() {
      revocations.stop();
      authorities.stop();
      // Held configuration requests answer now (304 unless changed), so the listeners do not wait for them.
      waiters.close();
      await Promise.all([http.stop(), mtls.stop(), hints?.stop()]);
      await lastSeen.stop();
    },
  };
}
