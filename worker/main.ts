// Production entry point of the management-plane worker: external Temporal and PostgreSQL.
import { createServer } from 'node:http';
import { NativeConnection } from '@temporalio/worker';
import { whenReachable } from '../lib/backoff.js';
import { activityDeps } from './deps.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown, runMain, stopStack } from '../lib/main.js';
import { createMetrics } from '../lib/metrics.js';
import { connectClient, connectionOptions } from '../lib/temporal.js';
import { createPool } from '../db/pool.js';
import { installRuntime } from '../lib/sdk-logging.js';
import { superviseWorker } from '../lib/supervise.js';
import { createWorker, startReconciler } from './worker.js';

/** What was started, in order; stopped in reverse on SIGINT/SIGTERM or when start-up fails half-way. */
const { stops, stopAll } = stopStack();

runMain(async () => {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL: must be set for the standalone worker');
  const logger = createLogger(config.logLevel);
  onShutdown(stopAll);
  const metrics = createMetrics();
  installRuntime(logger);
  const pool = createPool(config.databaseUrl, logger, config.databasePoolSize);
  stops.push(() => pool.end());
  const options = await connectionOptions(config.temporal);
  const connection = await whenReachable(`Temporal at ${config.temporal.address}`, () => NativeConnection.connect(options), logger);
  stops.push(() => connection.close());
  const temporal = await whenReachable(`Temporal at ${config.temporal.address}`, () => connectClient(config.temporal), logger);
  stops.push(() => temporal.connection.close());
  const deps = activityDeps(config, pool, temporal);
  // Temporal away for a while is ridden out by the SDK; a worker that fails for good is created again.
  const worker = superviseWorker({
    name: 'management-plane',
    logger,
    create: () => createWorker({ connection, namespace: config.temporal.namespace, taskQueue: config.taskQueue, deps, metrics }),
  });
  stops.push(() => worker.stop());
  await worker.started;
  if (config.reconciler) startReconciler(temporal, config.taskQueue, logger, stops);
  if (config.workerMetricsPort) {
    const metricsServer = createServer((_req, res) => {
      void metrics.registry.metrics().then(
        (text) => res.setHeader('Content-Type', metrics.registry.contentType).end(text),
        () => res.writeHead(500).end(),
      );
    });
    metricsServer.on('error', (error) => logger.error({ err: error.message }, 'metrics listener failed'));
    // On the configured interface only (MERIDIAN_HOST, 127.0.0.1 unless set), like the API's public listener.
    metricsServer.listen(config.workerMetricsPort, config.http.host, () =>
      logger.info({ host: config.http.host, port: config.workerMetricsPort }, 'worker metrics listening'),
    );
    stops.push(() => new Promise<void>((resolve) => metricsServer.close(() => resolve())));
  }
  logger.info({ taskQueue: config.taskQueue, temporal: config.temporal.address, pid: process.pid }, 'worker running');
  await worker.done;
  // Shut down by the SDK's own signal handling (or stopAll): release the rest.
  await stopAll();
}, stopAll);
