// Production entry point of the management-plane worker: external Temporal and PostgreSQL.
import { createServer } from 'node:http';
import { NativeConnection } from '@temporalio/worker';
import { activityDeps } from './deps.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown, runMain } from '../lib/main.js';
import { createMetrics } from '../lib/metrics.js';
import { connectClient, connectionOptions } from '../lib/temporal.js';
import { createPool } from '../db/pool.js';
import { installRuntime } from '../lib/sdk-logging.js';
import { createWorker } from './worker.js';

runMain(async () => {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL: must be set for the standalone worker');
  const logger = createLogger(config.logLevel);
  const metrics = createMetrics();
  installRuntime(logger);
  const pool = createPool(config.databaseUrl, logger);
  const connection = await NativeConnection.connect(await connectionOptions(config.temporal));
  const temporal = await connectClient(config.temporal);
  const worker = await createWorker({ connection, namespace: config.temporal.namespace, taskQueue: config.taskQueue, deps: activityDeps(config, pool, temporal), metrics });
  const metricsServer = createServer((_req, res) => {
    void metrics.registry.metrics().then((text) => res.setHeader('Content-Type', metrics.registry.contentType).end(text));
  });
  if (config.workerMetricsPort) metricsServer.listen(config.workerMetricsPort);
  onShutdown(async () => worker.shutdown());
  logger.info({ taskQueue: config.taskQueue, temporal: config.temporal.address }, 'worker running');
  await worker.run();
  metricsServer.close();
  await connection.close();
  await temporal.connection.close();
  await pool.end();
});
