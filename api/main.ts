// Production entry point of the API: external Temporal and PostgreSQL.
import { apiSettings, sharedDeps } from '../trust/load.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown, runMain } from '../lib/main.js';
import { createMetrics } from '../lib/metrics.js';
import { connectClient } from '../lib/temporal.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { bootstrapAdminToken } from '../db/tenants.js';
import { startApi } from './server.js';

runMain(async () => {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL: must be set for the standalone API');
  const logger = createLogger(config.logLevel);
  const pool = createPool(config.databaseUrl, logger, config.databasePoolSize);
  await migrate(pool);
  if (config.adminToken) await bootstrapAdminToken(pool, config.adminToken, logger);
  const temporal = await connectClient(config.temporal);
  const metrics = createMetrics();
  const server = await startApi(
    { pool, temporal, logger, metrics, ...sharedDeps(config), ...apiSettings(config) },
    config.http,
  );
  logger.info({ url: server.http.url, mtls: server.mtls.url }, 'API listening');
  onShutdown(async () => {
    await server.stop();
    await temporal.connection.close();
    await pool.end();
  });
});
