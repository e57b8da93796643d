// The API process of `npm run bench -- storm` (bench/storm.ts): the standalone API as api/main.ts sets it
// up, which the benchmark restarts on request: `{ restart: <limit> }` over IPC stops both listeners (held
// requests answered, connections closed) and starts them again on the same ports with that
// MERIDIAN_MAX_REQUESTS_IN_FLIGHT (0: no limit), then tells how many runtimes are fresh again. The
// process, its PostgreSQL pool and its Temporal connection stay; its metrics start from zero at each start.
import { startApi, type RunningApi } from '../api/server.js';
import type { ConfigWatch } from '../services/config-waiters.js';
import { createPool } from '../db/pool.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown, runMain } from '../lib/main.js';
import { createMetrics } from '../lib/metrics.js';
import { connectClient } from '../lib/temporal.js';
import { apiSettings, sharedDeps } from '../trust/load.js';

/**
 * What the benchmark hears: when the listeners stopped, when they listen again, and when `fresh` runtimes
 * were fresh again (ms since the epoch).
 */
export type StormApiMessage = { stopped: number } | { started: number } | { fresh: number; at: number };

/** What the benchmark asks: a restart with this limit, counting fresh runtimes up to `runtimes`. */
export interface StormRestart {
  restart: number;
  runtimes: number;
}

/**
 * Counts the runtimes whose configuration request read its current, unchanged version on this start of
 * the API (it is then held: the runtime watches again), and tells at every tenth of `target` and at it.
 */
function countFresh(api: RunningApi, target: number, tell: (message: StormApiMessage) => void): void {
  const fresh = new Set<string>();
  const step = Math.max(1, Math.ceil(target / 10));
  const watch = api.waiters.watch.bind(api.waiters);
  api.waiters.watch = (runtimeId: string): ConfigWatch => {
    const registration = watch(runtimeId);
    return {
      cancel: registration.cancel,
      wait: (ms, signal) => {
        if (!fresh.has(runtimeId)) {
          fresh.add(runtimeId);
          if (fresh.size % step === 0 || fresh.size === target) tell({ fresh: fresh.size, at: Date.now() });
        }
        return registration.wait(ms, signal);
      },
    };
  };
}

runMain(async () => {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL: must be set for the storm benchmark\'s API');
  const logger = createLogger(config.logLevel);
  const pool = createPool(config.databaseUrl, logger, config.databasePoolSize);
  const temporal = await connectClient(config.temporal);
  const start = (maxRequestsInFlight: number) =>
    startApi({ pool, temporal, logger, metrics: createMetrics(), ...sharedDeps(config), ...apiSettings(config), maxRequestsInFlight }, config.http);
  let api: RunningApi = await start(config.maxRequestsInFlight);
  const tell = (message: StormApiMessage) => process.send?.(message);
  tell({ started: Date.now() });
  process.on('message', (message: StormRestart) => {
    void (async () => {
      await api.stop();
      tell({ stopped: Date.now() });
      api = await start(message.restart);
      countFresh(api, message.runtimes, tell);
      tell({ started: Date.now() });
    })();
  });
  const stop = async () => {
    await api.stop();
    await temporal.connection.close();
    await pool.end();
  };
  // The benchmark gone (it ended, or was killed): nothing is left listening.
  process.on('disconnect', () => void stop().finally(() => process.exit(0)));
  onShutdown(stop);
});
