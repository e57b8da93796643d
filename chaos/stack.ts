// The production shape as separate processes this run controls, so each can be stopped, killed and
// started again on its own: embedded PostgreSQL, a Temporal dev server on a SQLite file, and
// Meridian's API, worker and runtime host from source. Loopback only, ephemeral ports, one folder.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startDevServer } from '../dev/devserver.js';
import { startEmbeddedPostgres } from '../dev/embedded-postgres.js';
import { freePort } from '../dev/local-stack.js';
import { startService, waitUntil, type Service } from '../dev/service.js';
import { ensureTemporalTools } from '../dev/tools.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where every process's whole output goes, when set (the run keeps only the last lines otherwise). */
const LOG_DIR = process.env.CHAOS_LOG_DIR;
if (LOG_DIR) fs.mkdirSync(LOG_DIR, { recursive: true });

export type Name = 'postgres' | 'temporal' | 'api' | 'worker' | 'host';
const ORDER: Name[] = ['postgres', 'temporal', 'api', 'worker', 'host'];

/** A process that exited without the run asking it to: a finding. */
export interface Exit {
  name: string;
  at: number;
  how: string;
  /** Its last error lines (non-JSON output and log lines at warn or above). */
  evidence: string[];
}

/** Where Meridian's processes are and how to reach them: what the traffic of a fault needs. */
export interface Target {
  url: string;
  adminToken: string;
  databaseUrl: string;
  temporalAddress: string;
}

/** The last lines worth quoting from a process's output. */
export function evidenceOf(lines: string[], count = 6): string[] {
  const LEVELS: Record<number, string> = { 40: 'warn', 50: 'error', 60: 'fatal' };
  const worth = lines.flatMap((line) => {
    let entry: { level?: number; msg?: string; err?: { type?: string; message?: string } | string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return line.trim() ? [line] : [];
    }
    if (!entry.level || entry.level < 40) return [];
    const err = typeof entry.err === 'string' ? entry.err : entry.err && `${entry.err.type ?? 'Error'}: ${entry.err.message}`;
    return [`[${LEVELS[entry.level] ?? entry.level}] ${entry.msg ?? ''}${err ? ` (${err})` : ''}`];
  });
  return worth.slice(-count).map((line) => (line.length > 240 ? `${line.slice(0, 240)}…` : line));
}

/** Runs `fn` with a connection of its own to `url`. */
export async function withDb<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One process of the stack: how to start it, and what it said last. */
class Managed {
  service?: Service;
  /** Set while the run stops or kills it on purpose: that exit is the fault, not a finding. */
  intended = false;
  readonly tail: string[] = [];

  constructor(
    readonly name: Name,
    private readonly launch: (onOutput: (line: string) => void) => Promise<Service>,
    private readonly onExit: (exit: Exit) => void,
  ) {}

  get running(): boolean {
    const child = this.service?.process;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  private remember = (line: string) => {
    this.tail.push(line);
    if (this.tail.length > 200) this.tail.splice(0, 100);
    if (LOG_DIR) fs.appendFileSync(path.join(LOG_DIR, `${this.name}.log`), `${line}\n`);
  };

  /** Starts it and waits until it is ready; false (recorded as an exit) when it does not get there. */
  async start(): Promise<boolean> {
    this.intended = false;
    let service: Service;
    try {
      service = await this.launch(this.remember);
    } catch (error) {
      this.onExit({ name: this.name, at: Date.now(), how: `did not start: ${(error as Error).message}`, evidence: evidenceOf(this.tail) });
      return false;
    }
    this.service = service;
    service.process.once('exit', (code, signal) => {
      if (!this.intended) this.onExit({ name: this.name, at: Date.now(), how: signal ? `signal ${signal}` : `code ${code}`, evidence: evidenceOf(this.tail) });
    });
    return true;
  }

  async stop(): Promise<void> {
    this.intended = true;
    // PostgreSQL's fast shutdown is SIGINT; everything else stops on SIGTERM.
    await this.service?.stop(this.name === 'postgres' ? 'SIGINT' : 'SIGTERM', 20_000);
  }

  kill(): void {
    this.intended = true;
    this.service?.process.kill('SIGKILL');
  }
}

export class Stack implements Target {
  readonly adminToken = randomBytes(32).toString('base64url');
  readonly dataDir: string;
  readonly exits: Exit[] = [];
  databaseUrl = '';
  /** The runtime host's gateway, as its start line announces it. */
  hostGateway = '';
  private readonly procs: Record<Name, Managed>;

  private constructor(
    readonly dir: string,
    readonly ports: { http: number; mtls: number; postgres: number; temporal: number },
    cli: string,
  ) {
    this.dataDir = path.join(dir, 'data');
    const exited = (exit: Exit) => this.exits.push(exit);
    const node = (name: Name, entry: string, ready: (line: string) => boolean) =>
      new Managed(
        name,
        async (onOutput) => {
          let started = false;
          const service = startService(name, process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], {
            cwd: ROOT,
            env: { ...process.env, ...this.env },
            onOutput: (line) => {
              onOutput(line);
              if (ready(line)) started = true;
            },
          });
          await waitUntil(`${name} ready`, async () => started, { service, timeoutMs: 180_000 });
          return service;
        },
        exited,
      );
    this.procs = {
      postgres: new Managed(
        'postgres',
        async (onOutput) => {
          const postgres = await startEmbeddedPostgres({ dir: path.join(this.dataDir, 'postgres'), port: ports.postgres, onOutput });
          this.databaseUrl = postgres.url;
          return postgres.service;
        },
        exited,
      ),
      temporal: new Managed(
        'temporal',
        async (onOutput) =>
          (await startDevServer({ cli, port: ports.temporal, dbFile: path.join(this.dataDir, 'temporal.sqlite'), onOutput })).service,
        exited,
      ),
      api: node('api', 'api/main.ts', (line) => line.includes('"msg":"API listening"')),
      worker: node('worker', 'worker/main.ts', (line) => line.includes('"msg":"worker running"')),
      host: node('host', 'runtime/host-main.ts', (line) => {
        const gateway = /"msg":"runtime host running"/.test(line) && (JSON.parse(line) as { gateway?: string }).gateway;
        if (gateway) this.hostGateway = gateway;
        return Boolean(gateway);
      }),
    };
  }

  /** A stack in `dir` (which must exist) on fresh ephemeral ports; nothing runs yet. */
  static async create(dir: string): Promise<Stack> {
    const { cli } = ensureTemporalTools();
    if (!cli) throw new Error('the Temporal CLI is missing; see README, Troubleshooting');
    const [http, mtls, postgres, temporal] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    return new Stack(dir, { http, mtls, postgres, temporal }, cli);
  }

  get url(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  get temporalAddress(): string {
    return `127.0.0.1:${this.ports.temporal}`;
  }

  get mtlsUrl(): string {
    return `https://127.0.0.1:${this.ports.mtls}`;
  }

  /** The environment of Meridian's processes (README, Configuration). */
  private get env(): Record<string, string> {
    return {
      DATABASE_URL: this.databaseUrl,
      TEMPORAL_ADDRESS: this.temporalAddress,
      MERIDIAN_DATA_DIR: this.dataDir,
      MERIDIAN_HOST: '127.0.0.1',
      MERIDIAN_HTTP_PORT: String(this.ports.http),
      MERIDIAN_MTLS_PORT: String(this.ports.mtls),
      MERIDIAN_PUBLIC_URL: this.url,
      MERIDIAN_MTLS_URL: this.mtlsUrl,
      MERIDIAN_ADMIN_TOKEN: this.adminToken,
      MERIDIAN_WORKER_METRICS_PORT: '0',
      MERIDIAN_OUTBOUND_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'info',
    };
  }

  /** The exits recorded since the last call: each is reported in exactly one row. */
  takeExits(): Exit[] {
    return this.exits.splice(0);
  }

  process(name: Name): Managed {
    return this.procs[name];
  }

  /** Starts everything: the dependencies, then the API (it migrates and creates the CA), then the rest. */
  async start(): Promise<void> {
    fs.mkdirSync(this.dataDir, { recursive: true });
    fs.chmodSync(this.dataDir, 0o755); // PostgreSQL runs as the postgres user when this runs as root
    for (const stage of [['postgres', 'temporal'], ['api'], ['worker', 'host']] as Name[][]) {
      const started = await Promise.all(stage.map((name) => this.procs[name].start()));
      if (!started.every(Boolean)) {
        const why = this.exits.flatMap((e) => [`${e.name}: ${e.how}`, ...e.evidence]).join('\n  ');
        throw new Error(`the stack did not start:\n  ${why}`);
      }
    }
  }

  /** Starts again, in order, every process that is not running (a failed start is recorded as an exit). */
  async heal(): Promise<void> {
    for (const name of ORDER) if (!this.procs[name].running) await this.procs[name].start();
  }

  /** Resolves with the time `/readyz` first answered 200, or undefined at `deadline`. */
  async untilReady(deadline: number): Promise<number | undefined> {
    while (Date.now() < deadline) {
      const ready = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(5_000) }).then(
        (res) => res.status === 200,
        () => false,
      );
      if (ready) return Date.now();
      await sleep(250);
    }
    return undefined;
  }

  /** Stops every process in reverse order, then whatever else still runs from this folder. */
  async stop(): Promise<void> {
    for (const name of [...ORDER].reverse()) await this.procs[name].stop().catch(() => undefined);
    await reap(this.dir);
  }
}

const cmdline = (pid: number) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
};

/** Pids of the processes whose command line names `dir`: ours (local runtimes, orphans of a killed `npm start`). */
export function processesUsing(dir: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid && cmdline(pid).includes(dir));
}

/** Stops every process started from `dir`: SIGINT first (PostgreSQL's fast shutdown), SIGKILL after 10 s. */
export async function reap(dir: string): Promise<number> {
  const pids = processesUsing(dir);
  const signal = (pid: number, name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, 'SIGINT');
  const deadline = Date.now() + 10_000;
  while (processesUsing(dir).length > 0 && Date.now() < deadline) await sleep(200);
  for (const pid of processesUsing(dir)) signal(pid, 'SIGKILL');
  return pids.length;
}
