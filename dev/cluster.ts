// The pieces of `npm run cluster` (scripts/cluster.ts): the services of docker-compose.yml as processes
// on this machine, started with the same commands and the same environment variables.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { connectionOptions, SEARCH_ATTRIBUTES } from '../lib/temporal.js';
import { temporalAnswers } from './devserver.js';
import type { ClusterTools } from './go-tools.js';
import { readPidFile, stopLeftover, type Identity } from './leftovers.js';
import { startService, waitUntil, type Service } from './service.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');

/** Every port the cluster listens on (all on 127.0.0.1), with its default. */
export const DEFAULT_PORTS = {
  postgres: 5434,
  temporal: 7233,
  temporalHttp: 7243,
  temporalMembership: 6933,
  history: 7234,
  historyMembership: 6934,
  matching: 7235,
  matchingMembership: 6935,
  temporalWorker: 7239,
  temporalWorkerMembership: 6939,
  ui: 8233,
  api1: 8080,
  api1Mtls: 8443,
  api2: 8081,
  api2Mtls: 8444,
  worker1Metrics: 9464,
  worker2Metrics: 9465,
  runtimeHost: 8090,
} as const;
export type Ports = Record<keyof typeof DEFAULT_PORTS, number>;

/** The default ports, or with `base` consecutive ports from it in the order of {@link DEFAULT_PORTS}. */
export function clusterPorts(base?: number): Ports {
  const names = Object.keys(DEFAULT_PORTS) as Array<keyof Ports>;
  return Object.fromEntries(names.map((name, i) => [name, base === undefined ? DEFAULT_PORTS[name] : base + i])) as Ports;
}

/** The folders of a cluster's data directory; each stands for a compose volume. */
export function clusterLayout(dir: string) {
  return {
    dir,
    /** meridian-db and temporal-db: one PostgreSQL server with the three databases. */
    postgres: path.join(dir, 'postgres'),
    /** temporal-certs and temporal-ca. */
    certs: path.join(dir, 'temporal-certs'),
    ca: path.join(dir, 'temporal-ca'),
    /** meridian-ca: Meridian's CA, encryption key and simulated runtimes, shared by its processes. */
    meridian: path.join(dir, 'meridian'),
    logs: path.join(dir, 'logs'),
    pids: path.join(dir, 'pids'),
    ui: path.join(dir, 'temporal-ui'),
    /** What runs now, for tools and tests: see {@link ClusterState}. */
    state: path.join(dir, 'cluster.json'),
  };
}
export type ClusterLayout = ReturnType<typeof clusterLayout>;

/** `cluster.json`: the ports and the pid of each process, rewritten on every (re)start. */
export interface ClusterState {
  ports: Ports;
  pids: Record<string, number>;
}

/** A process of the cluster, as {@link supervise} (dev/service.ts) keeps it. */
export interface ClusterProcess {
  service: Service;
  stop(): Promise<void>;
}

/** The password of Temporal's database role, created once beside the cluster directory's PostgreSQL. */
function temporalPassword(layout: ClusterLayout): string {
  const file = `${layout.postgres}.temporal-password`;
  if (!fs.existsSync(file)) fs.writeFileSync(file, randomBytes(24).toString('base64url'), { mode: 0o600, flag: 'wx' });
  return fs.readFileSync(file, 'utf8').trim();
}

/** Database settings of Temporal's persistence and visibility (compose: temporal-db). */
export interface TemporalDb {
  port: number;
  user: string;
  password: string;
}

/** The `temporal` role on the cluster's PostgreSQL (compose: the temporal-db image's POSTGRES_USER). */
export async function ensureTemporalRole(adminUrl: string, layout: ClusterLayout, port: number): Promise<TemporalDb> {
  const password = temporalPassword(layout);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query(`SELECT 1 FROM pg_roles WHERE rolname = 'temporal'`);
    const verb = rowCount ? 'ALTER' : 'CREATE';
    await client.query(`${verb} ROLE temporal WITH LOGIN CREATEDB PASSWORD '${password.replace(/'/g, "''")}'`);
  } finally {
    await client.end();
  }
  return { port, user: 'temporal', password };
}

/**
 * compose `temporal-schema`: creates Temporal's two databases and brings their schemas to the server's
 * version with the server's own schema tool (idempotent: a second run changes nothing; a newer server
 * version's `update-schema` applies only the newer versions).
 */
export async function applyTemporalSchema(tools: ClusterTools, db: TemporalDb, log: (line: string) => void): Promise<void> {
  const env = { ...process.env, SQL_PLUGIN: 'postgres12', SQL_HOST: '127.0.0.1', SQL_PORT: String(db.port), SQL_USER: db.user, SQL_PASSWORD: db.password };
  for (const [database, schema] of [['temporal', 'temporal'], ['temporal_visibility', 'visibility']] as const) {
    const sql = (args: string[]) => run(tools.sqlTool, ['--db', database, ...args], { env });
    await sql(['create']).catch((error: { stderr?: string }) => {
      if (!/already exists/.test(error.stderr ?? '')) throw new Error(`temporal-sql-tool create ${database}: ${error.stderr ?? error}`);
    });
    await sql(['setup-schema', '-v', '0.0']);
    await sql(['update-schema', '-d', path.join(tools.serverModule, 'schema', 'postgresql', 'v12', schema, 'versioned')]);
    log(`schema of ${database} is current`);
  }
}

/** Paths of the mTLS material for Temporal (compose: the temporal-certs volume). */
const tlsFiles = (layout: ClusterLayout, leaf: 'meridian' | 'admin' | 'server') => ({
  ca: path.join(layout.certs, 'ca.crt'),
  cert: path.join(layout.certs, `${leaf}.crt`),
  key: path.join(layout.certs, `${leaf}.key`),
});

/** compose `temporal`: the environment of the server image's config template (config/docker.yaml). */
export function temporalServerEnv(layout: ClusterLayout, ports: Ports, db: TemporalDb, tools: ClusterTools): Record<string, string> {
  const server = tlsFiles(layout, 'server');
  return {
    DB: 'postgres12',
    DB_PORT: String(db.port),
    VISIBILITY_DB_PORT: String(db.port),
    POSTGRES_SEEDS: '127.0.0.1',
    POSTGRES_USER: db.user,
    POSTGRES_PWD: db.password,
    DBNAME: 'temporal',
    VISIBILITY_DBNAME: 'temporal_visibility',
    BIND_ON_IP: '127.0.0.1',
    TEMPORAL_BROADCAST_ADDRESS: '127.0.0.1',
    TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
    TEMPORAL_TLS_SERVER_CA_CERT: server.ca,
    TEMPORAL_TLS_SERVER_CERT: server.cert,
    TEMPORAL_TLS_SERVER_KEY: server.key,
    TEMPORAL_TLS_INTERNODE_SERVER_NAME: 'temporal',
    TEMPORAL_TLS_FRONTEND_CERT: server.cert,
    TEMPORAL_TLS_FRONTEND_KEY: server.key,
    TEMPORAL_TLS_CLIENT1_CA_CERT: server.ca,
    TEMPORAL_TLS_FRONTEND_SERVER_NAME: 'temporal',
    // Ports the image leaves at their defaults; here several clusters may share a machine.
    FRONTEND_GRPC_PORT: String(ports.temporal),
    FRONTEND_HTTP_PORT: String(ports.temporalHttp),
    FRONTEND_MEMBERSHIP_PORT: String(ports.temporalMembership),
    HISTORY_GRPC_PORT: String(ports.history),
    HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
    MATCHING_GRPC_PORT: String(ports.matching),
    MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
    WORKER_GRPC_PORT: String(ports.temporalWorker),
    WORKER_MEMBERSHIP_PORT: String(ports.temporalWorkerMembership),
    DYNAMIC_CONFIG_FILE_PATH: path.join(tools.serverModule, 'config', 'dynamicconfig', 'docker.yaml'),
    LOG_LEVEL: 'warn',
  };
}

/** compose `x-temporal-admin-env`: the operators' certificate, for the Temporal CLI and the UI server. */
export function temporalAdminEnv(layout: ClusterLayout, ports: Ports): Record<string, string> {
  const admin = tlsFiles(layout, 'admin');
  return {
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
    TEMPORAL_TLS_CERT: admin.cert,
    TEMPORAL_TLS_KEY: admin.key,
    TEMPORAL_TLS_CA: admin.ca,
    TEMPORAL_TLS_SERVER_NAME: 'temporal',
  };
}

/** compose `x-meridian-env`, for the api, worker and runtime-host processes. */
export function meridianEnv(layout: ClusterLayout, ports: Ports, databaseUrl: string): Record<string, string> {
  const tls = tlsFiles(layout, 'meridian');
  return {
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_TLS_CERT_FILE: tls.cert,
    TEMPORAL_TLS_KEY_FILE: tls.key,
    TEMPORAL_TLS_CA_FILE: tls.ca,
    TEMPORAL_TLS_SERVER_NAME: 'temporal',
    MERIDIAN_HOST: '127.0.0.1',
    MERIDIAN_DATA_DIR: layout.meridian,
    MERIDIAN_PUBLIC_URL: `http://localhost:${ports.api1}`,
    MERIDIAN_MTLS_URL: `https://localhost:${ports.api1Mtls}`,
    MERIDIAN_TLS_HOSTNAMES: 'localhost,127.0.0.1',
    LOG_LEVEL: 'info',
  };
}

/** Whether the frontend at `address` answers with the given client certificate. */
async function answersWith(address: string, tls: ReturnType<typeof tlsFiles>): Promise<boolean> {
  return temporalAnswers(await connectionOptions({ address, tls: { certFile: tls.cert, keyFile: tls.key, caFile: tls.ca, serverName: 'temporal' } }));
}

/** Output of a process, appended to `logs/<name>.log`. */
export function processLog(layout: ClusterLayout, name: string): (line: string) => void {
  fs.mkdirSync(layout.logs, { recursive: true });
  const stream = fs.createWriteStream(path.join(layout.logs, `${name}.log`), { flags: 'a' });
  return (line) => stream.write(`${line}\n`);
}

/** Waits for a process's health check; a process that exits first fails with the end of its log. */
async function ready(layout: ClusterLayout, service: Service, what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  try {
    await waitUntil(what, check, { service, timeoutMs });
  } catch (error) {
    await service.stop();
    const log = path.join(layout.logs, `${service.name}.log`);
    const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trimEnd().split('\n').slice(-8).map((line) => `    ${line.slice(0, 400)}`) : [];
    throw new Error([(error as Error).message, `  end of ${log}:`, ...tail].join('\n'));
  }
}

const pidFile = (layout: ClusterLayout, name: string) => path.join(layout.pids, `${name}.pid`);

/** How each process is recognised when a cluster killed with SIGKILL left it running. */
const identities = (layout: ClusterLayout): Record<string, Identity> => ({
  'temporal': { programs: ['temporal-server'], args: ['--config-file'] },
  'temporal-ui': { programs: ['temporal-ui-server'], args: ['--root', layout.ui] },
  ...Object.fromEntries(
    Object.entries(MERIDIAN_PROCESSES).map(([name, entry]) => [name, { programs: ['node'], args: [path.join(ROOT, entry)] }]),
  ),
});

/** Stops what a cluster killed with SIGKILL left running on this directory (PostgreSQL aside). */
export async function stopLeftovers(layout: ClusterLayout, log: (message: string) => void): Promise<void> {
  if (!fs.existsSync(layout.pids)) return;
  await Promise.all(
    Object.entries(identities(layout)).map(async ([name, identity]) => {
      const pid = readPidFile(pidFile(layout, name));
      if (pid !== undefined) await stopLeftover({ name, pid, identity, log });
      fs.rmSync(pidFile(layout, name), { force: true });
    }),
  );
}

/** compose `temporal`: the server from its Go module, on the image's config template. */
export async function startTemporalServer(layout: ClusterLayout, ports: Ports, db: TemporalDb, tools: ClusterTools): Promise<ClusterProcess> {
  fs.mkdirSync(layout.pids, { recursive: true });
  const service = startService('temporal', tools.server, ['--config-file', path.join(tools.serverModule, 'config', 'docker.yaml'), 'start'], {
    env: { ...process.env, ...temporalServerEnv(layout, ports, db, tools) },
    onOutput: processLog(layout, 'temporal'),
    pidFile: pidFile(layout, 'temporal'),
  });
  await ready(layout, service, `Temporal server on 127.0.0.1:${ports.temporal}`, () => answersWith(`127.0.0.1:${ports.temporal}`, tlsFiles(layout, 'admin')));
  return { service, stop: () => service.stop('SIGTERM', 20_000) };
}

/** compose `temporal-init`: the namespace and Meridian's search attributes, with the Temporal CLI. */
export async function initTemporal(cli: string, layout: ClusterLayout, ports: Ports): Promise<void> {
  const env = { ...process.env, ...temporalAdminEnv(layout, ports) };
  const temporal = (args: string[]) => run(cli, args, { env });
  await temporal(['operator', 'namespace', 'describe', '--namespace', 'default']).catch(() =>
    temporal(['operator', 'namespace', 'create', '--namespace', 'default', '--retention', '7d']),
  );
  // A namespace just created is known to every service only after their caches refresh.
  await waitUntil(
    'Meridian search attributes',
    async () => {
      const { stdout } = await temporal(['operator', 'search-attribute', 'list', '--namespace', 'default']);
      const missing = SEARCH_ATTRIBUTES.filter((name) => !stdout.includes(name));
      for (const name of missing) await temporal(['operator', 'search-attribute', 'create', '--namespace', 'default', '--name', name, '--type', 'Keyword']);
      return missing.length === 0;
    },
    { timeoutMs: 90_000 },
  );
}

/**
 * compose `temporal-ui`: the UI server from its Go module with the image's config template
 * (config/docker.yaml), bound to 127.0.0.1 like the compose port mapping.
 */
export async function startTemporalUi(layout: ClusterLayout, ports: Ports, tools: ClusterTools): Promise<ClusterProcess> {
  const configDir = path.join(layout.ui, 'config');
  fs.mkdirSync(configDir, { recursive: true });
  const template = fs.readFileSync(path.join(tools.uiModule, 'config', 'docker.yaml'), 'utf8');
  fs.writeFileSync(path.join(configDir, 'docker.yaml'), `${template}\nhost: 127.0.0.1\n`);
  const service = startService('temporal-ui', tools.ui, ['--root', layout.ui, '--config', 'config', '--env', 'docker', 'start'], {
    env: {
      ...process.env,
      ...temporalAdminEnv(layout, ports),
      TEMPORAL_TLS_ENABLE_HOST_VERIFICATION: 'true',
      TEMPORAL_CORS_ORIGINS: `http://localhost:${ports.ui}`,
      TEMPORAL_UI_PORT: String(ports.ui),
    },
    onOutput: processLog(layout, 'temporal-ui'),
    pidFile: pidFile(layout, 'temporal-ui'),
  });
  await ready(layout, service, `Temporal UI on 127.0.0.1:${ports.ui}`, async () => (await fetch(`http://127.0.0.1:${ports.ui}/`)).ok);
  return { service, stop: () => service.stop('SIGTERM', 10_000) };
}

/** The compiled entry point of each Meridian process (compose: the `command` of api, worker, runtime-host). */
export const MERIDIAN_PROCESSES = {
  'api-1': 'dist/api/main.js',
  'api-2': 'dist/api/main.js',
  'worker-1': 'dist/worker/main.js',
  'worker-2': 'dist/worker/main.js',
  'runtime-host': 'dist/runtime/host-main.js',
} as const;
export type MeridianProcess = keyof typeof MERIDIAN_PROCESSES;

/** What differs between replicas, and the URL that answers 200 once the process is ready (its compose health check). */
export function replicaSettings(name: MeridianProcess, ports: Ports): { env: Record<string, string>; ready: string } {
  switch (name) {
    case 'api-1':
    case 'api-2': {
      const [http, mtls] = name === 'api-1' ? [ports.api1, ports.api1Mtls] : [ports.api2, ports.api2Mtls];
      return { env: { MERIDIAN_HTTP_PORT: String(http), MERIDIAN_MTLS_PORT: String(mtls) }, ready: `http://127.0.0.1:${http}/readyz` };
    }
    case 'worker-1':
    case 'worker-2': {
      const metrics = name === 'worker-1' ? ports.worker1Metrics : ports.worker2Metrics;
      return { env: { MERIDIAN_WORKER_METRICS_PORT: String(metrics) }, ready: `http://127.0.0.1:${metrics}/` };
    }
    case 'runtime-host':
      return { env: { MERIDIAN_RUNTIME_HOST_PORT: String(ports.runtimeHost) }, ready: `http://127.0.0.1:${ports.runtimeHost}/healthz` };
  }
}

/** Starts one Meridian process with `node <entry>` and waits for its health check. */
export async function startMeridianProcess(
  name: MeridianProcess,
  layout: ClusterLayout,
  ports: Ports,
  env: Record<string, string>,
): Promise<ClusterProcess> {
  const { env: own, ready: url } = replicaSettings(name, ports);
  const service = startService(name, process.execPath, [path.join(ROOT, MERIDIAN_PROCESSES[name])], {
    cwd: ROOT,
    env: { ...env, ...own },
    onOutput: processLog(layout, name),
    pidFile: pidFile(layout, name),
  });
  await ready(layout, service, `${name} (${url})`, async () => (await fetch(url)).ok);
  return { service, stop: () => service.stop('SIGTERM', 15_000) };
}
