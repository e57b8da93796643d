// `npm run cluster`: the production shape of docker-compose.yml on this machine, without Docker. Each
// compose service is a process here, started in compose's order with its command and environment:
// PostgreSQL, the Temporal certificates, Temporal's schema, the Temporal server (built from its Go
// module), the namespace and search attributes, the Temporal UI, two API replicas, two workers and the
// runtime host. A process that dies is started again (compose: restart: unless-stopped); Ctrl-C stops
// them all; the next run reuses the data in MERIDIAN_CLUSTER_DIR (default .data/cluster).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  applyTemporalSchema,
  clusterLayout,
  clusterPorts,
  ensureTemporalRole,
  initTemporal,
  meridianEnv,
  processLog,
  startMeridianProcess,
  startTemporalServer,
  startTemporalUi,
  stopLeftovers,
  type ClusterProcess,
  type ClusterState,
  type MeridianProcess,
  type Ports,
} from '../dev/cluster.js';
import { localProvider } from '../activities/providers/local.js';
import { startEmbeddedPostgres, stopLeftoverPostgres } from '../dev/embedded-postgres.js';
import { ensureClusterTools, GO_VERSIONS } from '../dev/go-tools.js';
import { claimDataDir } from '../dev/leftovers.js';
import { portFree } from '../dev/local-stack.js';
import { supervise, type Supervised } from '../dev/service.js';
import { ensureTemporalTools } from '../dev/tools.js';
import { ensureTemporalCerts } from './temporal-certs.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown, runMain, stopStack } from '../lib/main.js';

const ROOT = path.resolve(import.meta.dirname, '..');

async function assertPortsFree(ports: Ports): Promise<void> {
  for (const [name, port] of Object.entries(ports)) {
    if (!(await portFree(port))) throw new Error(`port ${port} (${name}) is already in use; stop what holds it or set MERIDIAN_CLUSTER_BASE_PORT`);
  }
}

/** Settings of the caller that reach the Meridian processes (compose: an edited `environment`); the rest is the cluster's. */
function passedThrough(): Record<string, string> {
  const own = /^(TEMPORAL_|DATABASE_URL$|MERIDIAN_(HOST|HTTP_PORT|MTLS_PORT|DATA_DIR|TLS_HOSTNAMES|WORKER_METRICS_PORT|RUNTIME_HOST_PORT|PG_PORT|START_TEMPORAL|CLUSTER_)|LOG_LEVEL$)/;
  return Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !own.test(entry[0])));
}

const { stops, stopAll } = stopStack();

runMain(async () => {
  const started = Date.now();
  const logger = createLogger(process.env.LOG_LEVEL === 'debug' ? 'debug' : 'info');
  const log = logger.child({ component: 'cluster' });
  onShutdown(stopAll);
  // Binaries first: the Temporal server and UI are built from their Go modules on the first run.
  // `--build-only` stops there (CI builds before its tests start their clusters).
  const tools = ensureClusterTools();
  const { cli } = ensureTemporalTools();
  if (!cli) throw new Error('the Temporal CLI is missing: install Python 3 (npm run cluster then installs it) or set TEMPORAL_CLI_PATH');
  log.info('building Meridian (npm run build)');
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  if (process.argv.includes('--build-only')) {
    log.info(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return;
  }
  const base = process.env.MERIDIAN_CLUSTER_BASE_PORT ? Number(process.env.MERIDIAN_CLUSTER_BASE_PORT) : undefined;
  // Temporal keeps its membership ports in a smallint column: every port stays below 32768.
  if (base !== undefined && !(Number.isInteger(base) && base > 1024 && base <= 32_700)) {
    throw new Error('MERIDIAN_CLUSTER_BASE_PORT: must be an integer from 1025 to 32700 (Temporal stores its ports as smallint)');
  }
  const ports = clusterPorts(base);
  const layout = clusterLayout(path.resolve(process.env.MERIDIAN_CLUSTER_DIR ?? path.join(ROOT, '.data', 'cluster')));
  fs.mkdirSync(layout.dir, { recursive: true });
  const release = claimDataDir(layout.dir);
  stops.push(async () => release());
  await Promise.all([stopLeftoverPostgres(layout.postgres, (m) => log.warn(m)), stopLeftovers(layout, (m) => log.warn(m))]);
  await assertPortsFree(ports);


  const pids: Record<string, number> = {};
  const writeState = () => {
    const state: ClusterState = { ports, pids };
    fs.writeFileSync(layout.state, `${JSON.stringify(state, null, 2)}\n`);
  };
  const supervised = async <T extends ClusterProcess>(name: string, start: () => Promise<T>): Promise<Supervised<T>> => {
    const track = async () => {
      const instance = await start();
      pids[name] = instance.service.process.pid ?? 0;
      writeState();
      return instance;
    };
    const kept = await supervise(name, track, logger);
    stops.push(kept.stop);
    return kept;
  };

  // meridian-db + temporal-db: one server; Meridian's database and Temporal's two.
  const postgres = await supervised('postgres', () => startEmbeddedPostgres({ dir: layout.postgres, port: ports.postgres, onOutput: processLog(layout, 'postgres') }));
  const db = await ensureTemporalRole(postgres.current().url, layout, ports.postgres);
  // temporal-certs, temporal-schema.
  ensureTemporalCerts({ dir: layout.certs, caDir: layout.ca });
  await applyTemporalSchema(tools, db, (line) => log.info(line));
  // temporal, temporal-init, temporal-ui.
  await supervised('temporal', () => startTemporalServer(layout, ports, db, tools));
  await initTemporal(cli, layout, ports);
  const ui = supervised('temporal-ui', () => startTemporalUi(layout, ports, tools));

  // api (two replicas), then worker (two) and runtime-host: compose's depends_on.
  // MERIDIAN_PUBLIC_URL and MERIDIAN_MTLS_URL of the caller (a load balancer in front of the replicas) win.
  const { MERIDIAN_PUBLIC_URL, MERIDIAN_MTLS_URL, ...settings } = passedThrough();
  const env = { ...settings, ...meridianEnv(layout, ports, postgres.current().url), ...(MERIDIAN_PUBLIC_URL && { MERIDIAN_PUBLIC_URL }), ...(MERIDIAN_MTLS_URL && { MERIDIAN_MTLS_URL }) };
  const firstRun = !fs.existsSync(path.join(layout.meridian, 'ca.crt'));
  const adminToken = process.env.MERIDIAN_ADMIN_TOKEN ?? (firstRun ? randomBytes(32).toString('base64url') : undefined);
  const apiEnv = adminToken ? { ...env, MERIDIAN_ADMIN_TOKEN: adminToken } : env;
  const meridian = (name: MeridianProcess) => supervised(name, () => startMeridianProcess(name, layout, ports, name.startsWith('api') ? apiEnv : env));
  // Local runtimes the workers started belong to this machine's cluster: stopped after the workers.
  stops.push(async () => void (await localProvider({ root: path.join(layout.meridian, 'runtimes'), temporal: { address: '', namespace: '' } }).stopAll()));
  await meridian('api-1');
  await Promise.all([meridian('api-2'), meridian('worker-1'), meridian('worker-2'), meridian('runtime-host'), ui]);

  const token = process.env.MERIDIAN_ADMIN_TOKEN
    ? 'from MERIDIAN_ADMIN_TOKEN'
    : firstRun
      ? `${adminToken}\n                   (shown once; it is stored only as a hash)`
      : 'shown on the first run only (or set MERIDIAN_ADMIN_TOKEN)';
  const line = (name: string, what: string) => `  ${name.padEnd(15)}${what}`;
  process.stdout.write(
    [
      '',
      `Meridian cluster is ready (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      line('api-1', `http://localhost:${ports.api1}   mTLS https://localhost:${ports.api1Mtls}`),
      line('api-2', `http://localhost:${ports.api2}   mTLS https://localhost:${ports.api2Mtls}`),
      line('worker-1', `task queue meridian   metrics http://127.0.0.1:${ports.worker1Metrics}/`),
      line('worker-2', `task queue meridian   metrics http://127.0.0.1:${ports.worker2Metrics}/`),
      line('runtime-host', `simulated runtimes   http://127.0.0.1:${ports.runtimeHost}/healthz`),
      line('temporal', `127.0.0.1:${ports.temporal} (mTLS, server ${GO_VERSIONS.server} on PostgreSQL)`),
      line('temporal-ui', `http://localhost:${ports.ui}`),
      line('postgres', `127.0.0.1:${ports.postgres} (databases meridian, temporal, temporal_visibility)`),
      line('data', `${layout.dir}   (logs in ${layout.logs})`),
      line('Admin token', token ?? ''),
      '  Stop with Ctrl-C.',
      '',
    ].join('\n') + '\n',
  );
}, stopAll);
