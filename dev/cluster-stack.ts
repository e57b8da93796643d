// `npm run cluster` as a child process, in its own temporary directory and on its own ports: for
// `npm run test:cluster` and the benchmarks against the cluster (`npm run bench -- --cluster`).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterLayout, clusterPorts, type ClusterState, type Ports } from './cluster.js';
import { embeddedUrl } from './embedded-postgres.js';
import { isAlive } from './leftovers.js';
import { portFree } from './local-stack.js';

const SCRIPT = path.resolve(import.meta.dirname, '../scripts/cluster.ts');

/** A base port whose whole range of cluster ports is free now. */
async function freeBase(): Promise<number> {
  for (;;) {
    // Below 32768: Temporal keeps membership ports in a smallint column. Above the usual npm start ports.
    const base = 20_000 + Math.floor(Math.random() * 250) * 50;
    const ports = Object.values(clusterPorts(base));
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
}

/** The caller's environment without its Meridian, Temporal and database settings. */
const callerEnv = () => Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(MERIDIAN_|TEMPORAL_|DATABASE_URL$)/.test(name)));

export class ClusterStack {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-cluster-'));
  readonly adminToken = randomBytes(32).toString('base64url');
  ports!: Ports;
  output = '';
  private child?: ChildProcess;

  get layout() {
    return clusterLayout(this.dir);
  }

  /** Starts the cluster and resolves with the milliseconds it took to be ready. */
  async start(env: Record<string, string> = {}, timeoutMs = 600_000): Promise<number> {
    fs.chmodSync(this.dir, 0o755);
    const base = await freeBase();
    this.ports = clusterPorts(base);
    const started = Date.now();
    this.child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
      env: {
        ...callerEnv(),
        MERIDIAN_CLUSTER_DIR: this.dir,
        MERIDIAN_CLUSTER_BASE_PORT: String(base),
        MERIDIAN_ADMIN_TOKEN: this.adminToken,
        MERIDIAN_OUTBOUND_ALLOW_PRIVATE: 'true',
        ...env,
      },
      stdio: 'pipe',
    });
    this.child.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
    while (!this.output.includes('Meridian cluster is ready')) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`npm run cluster exited:\n${this.output}`);
      if (Date.now() - started > timeoutMs) throw new Error(`npm run cluster not ready after ${timeoutMs} ms:\n${this.output}`);
      await sleep(250);
    }
    return Date.now() - started;
  }

  state(): ClusterState {
    return JSON.parse(fs.readFileSync(this.layout.state, 'utf8')) as ClusterState;
  }

  /** `kill -9` of one process of the cluster; resolves with its pid once it is gone. */
  async kill(name: string): Promise<number> {
    const pid = this.state().pids[name];
    if (!pid) throw new Error(`no pid for ${name}`);
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(50);
    return pid;
  }

  /** Resolves once `name` runs again under a pid other than `previous` (the cluster restarted it). */
  async restarted(name: string, previous: number, timeoutMs = 120_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pid = this.state().pids[name];
      if (pid && pid !== previous && isAlive(pid)) return pid;
      if (Date.now() > deadline) throw new Error(`${name} not restarted within ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  api(replica: 1 | 2): string {
    return `http://127.0.0.1:${replica === 1 ? this.ports.api1 : this.ports.api2}`;
  }

  mtls(replica: 1 | 2): string {
    return `https://localhost:${replica === 1 ? this.ports.api1Mtls : this.ports.api2Mtls}`;
  }

  /** Meridian's database (the superuser of the cluster's PostgreSQL); `database` picks another one. */
  databaseUrl(database = 'meridian'): string {
    return embeddedUrl(this.layout.postgres, this.ports.postgres).replace(/\/meridian$/, `/${database}`);
  }

  /** Ctrl-C, then the directory removed. */
  async stop(): Promise<number | null> {
    const child = this.child;
    let code: number | null = child?.exitCode ?? null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      child.kill('SIGINT');
      code = await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    return code;
  }
}
