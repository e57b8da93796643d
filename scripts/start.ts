// `npm start`: the whole management plane on one machine, with real Temporal and PostgreSQL.
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { startApi } from '../api/server.js';
import { buildConsole } from '../dev/console.js';
import { startEmbeddedPostgres, stopLeftoverPostgres, type EmbeddedPostgres } from '../dev/embedded-postgres.js';
import { claimDataDir } from '../dev/leftovers.js';
import { portFree } from '../dev/local-stack.js';
import { supervise, type Supervised } from '../dev/service.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { bootstrapAdminToken } from '../db/tenants.js';
import { loadConfig } from '../lib/config.js';
import { startDevServer, stopLeftoverDevServer, type DevServer } from '../dev/devserver.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown, runMain, stopStack } from '../lib/main.js';
import { createMetrics } from '../lib/metrics.js';
import { activityDeps } from '../worker/deps.js';
import { apiSettings, sharedDeps } from '../trust/load.js';
import { connectClient, connectionOptions } from '../lib/temporal.js';
import { ensureTemporalTools } from '../dev/tools.js';
import { installRuntime } from '../lib/sdk-logging.js';
import { startRuntimeHost } from '../runtime/host.js';
import { superviseWorker } from '../lib/supervise.js';
import { createWorker, startReconciler } from '../worker/worker.js';

async function assertPortFree(port: number, variable: string): Promise<void> {
  if (!(await portFree(port))) throw new Error(`port ${port} is already in use; stop what holds it or set ${variable}`);
}

/** What was started, in order; stopped in reverse on Ctrl-C or when start-up fails half-way. */
const { stops, stopAll } = stopStack();

runMain(async () => {
  const started = Date.now();
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  onShutdown(stopAll);

  fs.mkdirSync(config.dataDir, { recursive: true });
  // One start per data directory; what a start killed with SIGKILL left running is stopped first.
  const release = claimDataDir(config.dataDir);
  stops.push(async () => release());
  const leftovers = logger.child({ component: 'start' });
  const pgDir = path.join(config.dataDir, 'postgres');
  const temporalDb = path.join(config.dataDir, 'temporal.sqlite');
  const temporalPidFile = path.join(config.dataDir, 'temporal.pid');
  await Promise.all([
    stopLeftoverPostgres(pgDir, (message) => leftovers.warn(message)),
    stopLeftoverDevServer({ cli: process.env.TEMPORAL_CLI_PATH, pidFile: temporalPidFile, dbFile: temporalDb, log: (message) => leftovers.warn(message) }),
  ]);

  const temporalPort = Number(config.temporal.address.split(':')[1]);
  const runDevServer = config.temporal.startDevServer;
  await assertPortFree(config.http.port, 'MERIDIAN_HTTP_PORT');
  await assertPortFree(config.http.mtlsPort, 'MERIDIAN_MTLS_PORT');
  if (runDevServer) {
    await assertPortFree(temporalPort, 'TEMPORAL_ADDRESS (or MERIDIAN_START_TEMPORAL=false to use the server there)');
    await assertPortFree(config.temporal.uiPort, 'TEMPORAL_UI_PORT');
  }

  // PostgreSQL and the Temporal dev server are children of this process: one that dies is started again.
  let databaseUrl = config.databaseUrl;
  let postgres: Supervised<EmbeddedPostgres> | undefined;
  if (!databaseUrl) {
    await assertPortFree(config.embeddedPostgresPort, 'MERIDIAN_PG_PORT');
    const log = logger.child({ component: 'postgres' });
    postgres = await supervise('postgres', () => startEmbeddedPostgres({ dir: pgDir, port: config.embeddedPostgresPort, onOutput: (line) => log.debug(line) }), log);
    stops.push(postgres.stop);
    databaseUrl = postgres.current().url;
  }

  let devServer: Supervised<DevServer> | undefined;
  if (runDevServer) {
    const { cli } = ensureTemporalTools();
    if (!cli) throw new Error('the Temporal CLI is missing: install Python 3 (npm start then installs it) or set TEMPORAL_CLI_PATH');
    const log = logger.child({ component: 'temporal' });
    devServer = await supervise(
      'temporal',
      () =>
        startDevServer({
          cli,
          port: temporalPort,
          uiPort: config.temporal.uiPort,
          dbFile: temporalDb,
          pidFile: temporalPidFile,
          namespace: config.temporal.namespace,
          onOutput: (line) => log.debug(line),
        }),
      log,
    );
    stops.push(devServer.stop);
  }

  const pool = createPool(databaseUrl, logger, config.databasePoolSize);
  stops.push(() => pool.end());
  const migrations = await migrate(pool);
  const { bootstrap } = await bootstrapAdminToken(pool, config.adminToken, logger);

  // The console is built from its sources at every start (esbuild, well under a second), before any agent
  // starts: agents of the runtime host connect to the API, so the API follows them as soon as it can.
  await buildConsole();
  const metrics = createMetrics();
  installRuntime(logger);
  const temporal = await connectClient(config.temporal);
  stops.push(() => temporal.connection.close());
  const connection = await NativeConnection.connect(await connectionOptions(config.temporal));
  const deps = activityDeps(config, pool, temporal);
  // Temporal away for a while is ridden out by the SDK; a worker that fails for good is created again.
  const worker = superviseWorker({
    name: 'management-plane',
    logger: logger.child({ component: 'worker' }),
    create: () => createWorker({ connection, namespace: config.temporal.namespace, taskQueue: config.taskQueue, deps, metrics }),
  });
  stops.push(async () => {
    await worker.stop();
    await connection.close();
  });
  await worker.started;
  if (config.reconciler) startReconciler(temporal, config.taskQueue, logger, stops);
  if (config.runtimeHost) {
    const host = await startRuntimeHost({ connection, namespace: config.temporal.namespace, root: path.join(config.dataDir, 'simulated'), outbound: config.outbound, agentDesign: config.provisioning.agentDesign, logger });
    stops.push(host.stop);
  }
  // Local runtimes belong to this machine's stack: they stop with it and come back with it.
  const resumed = await deps.providers.local.resumeAll();
  stops.push(async () => void (await deps.providers.local.stopAll()));

  const api = await startApi(
    // Operations link the dev server's UI unless MERIDIAN_TEMPORAL_UI_URL names another.
    { pool, temporal, logger, metrics, ...sharedDeps(config), ...apiSettings(config), temporalUiUrl: config.temporal.uiUrl ?? devServer?.current().uiUrl },
    config.http,
  );
  stops.push(api.stop);
  const server = api.http;

  const token =
    bootstrap.source === 'generated'
      ? `${bootstrap.token}\n                   (shown once; it is stored only as a hash)`
      : bootstrap.source === 'environment'
        ? 'from MERIDIAN_ADMIN_TOKEN'
        : bootstrap.source === 'revoked'
          ? 'MERIDIAN_ADMIN_TOKEN is revoked: set a new value, or use another token of the tenant'
          : 'shown on the first start only';
  process.stdout.write(
    [
      '',
      `Meridian is ready (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      `  API            ${server.url}   (readiness: ${server.url}/readyz, contract: ${server.url}/openapi.json)`,
      `  Console        ${server.url}/console/   (sign in with an admin token)`,
      `  mTLS           ${api.urls.mtls}   (paired applications and runtimes)`,
      `  Temporal       ${config.temporal.address}, namespace ${config.temporal.namespace}`,
      devServer?.current().uiUrl ? `  Temporal UI    ${devServer.current().uiUrl}` : undefined,
      `  PostgreSQL     ${postgres ? `embedded, 127.0.0.1:${config.embeddedPostgresPort}` : 'DATABASE_URL'}`,
      `  Data           ${config.dataDir}   (CA: ${config.ca.certFile ?? path.join(config.dataDir, 'ca.crt')})`,
      `  Migrations     ${migrations.applied.length} applied, ${migrations.skipped.length} already present`,
      `  Runtimes       ${resumed} local runtime process(es) resumed, under ${path.join(config.dataDir, 'runtimes')}`,
      config.outbound.allowPrivate
        ? '  Outbound       loopback and private addresses allowed (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true)'
        : '  Outbound       loopback and private addresses refused (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true allows them, e.g. for npm run demo)',
      `  Admin token    ${token}`,
      '  Stop with Ctrl-C.',
      '',
    ]
      .filter((line) => line !== undefined)
      .join('\n') + '\n',
  );
}, stopAll);
