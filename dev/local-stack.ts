// Runs `npm start`'s program as a child with its own data directory and ports: for the start-up
// test and the benchmarks, which need the real thing, not an in-process imitation.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const START = fileURLToPath(new URL('../scripts/start.ts', import.meta.url));

/** An ephemeral port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether `port` on 127.0.0.1 can be listened on now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/**
 * Environment for a stack on fresh ephemeral ports with its data under `dataDir`. Its outbound calls
 * may reach loopback (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true): the demo's sample application and the
 * benchmarks' APIs listen on 127.0.0.1.
 */
export async function stackEnv(dataDir: string): Promise<Record<string, string>> {
  const [http, mtls, temporal, ui, pg] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  return {
    MERIDIAN_DATA_DIR: dataDir,
    MERIDIAN_HTTP_PORT: String(http),
    MERIDIAN_MTLS_PORT: String(mtls),
    TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
    TEMPORAL_UI_PORT: String(ui),
    MERIDIAN_PG_PORT: String(pg),
    MERIDIAN_OUTBOUND_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'warn',
  };
}

/** Where binaries are may come from the caller; which stack to talk to never does. */
const KEPT = new Set(['TEMPORAL_CLI_PATH', 'TEMPORAL_TEST_SERVER_PATH']);

/** The caller's environment without its Meridian, Temporal and database settings: the stack is its own. */
function callerEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => KEPT.has(name) || !/^(MERIDIAN_|TEMPORAL_|DATABASE_URL$)/.test(name)));
}

export class LocalStack {
  child?: ChildProcess;
  output = '';
  constructor(readonly env: Record<string, string>) {}

  get url(): string {
    return `http://127.0.0.1:${this.env.MERIDIAN_HTTP_PORT}`;
  }

  /** Starts the stack and resolves with the milliseconds it took to be ready. */
  async start(timeoutMs = 120_000): Promise<number> {
    const started = Date.now();
    this.output = '';
    this.child = spawn(process.execPath, ['--import', 'tsx', START], { env: { ...callerEnv(), ...this.env }, stdio: 'pipe' });
    this.child.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
    for (;;) {
      if (!this.running) throw new Error(`start exited early:\n${this.output}`);
      const ready = await fetch(`${this.url}/readyz`).then((r) => r.status === 200, () => false);
      if (ready && this.output.includes('Meridian is ready')) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`not ready after ${timeoutMs} ms:\n${this.output}`);
      await sleep(250);
    }
  }

  /** The bootstrap admin token, as printed on the first start. */
  get adminToken(): string | undefined {
    return /Admin token\s+([\w-]{43})\n/.exec(this.output)?.[1];
  }

  /** Whether the program is running. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Ctrl-C: SIGINT to the program, then wait for it to exit. */
  async interrupt(): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    return exited;
  }

  /**
   * `kill -9` of the program: it gets no chance to stop its children, which stay behind as orphans
   * (PostgreSQL, the Temporal dev server), as after a crash. Resolves once the program is gone.
   */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}
