import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, type BackoffOptions } from '../lib/backoff.js';
import { removePidFile, writePidFile } from './leftovers.js';

/** How a child process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process Meridian started and must stop; see {@link startService}. */
export interface Service {
  name: string;
  process: ChildProcess;
  /** Resolves when the process has exited (or could not be spawned: code null, signal null). */
  exited: Promise<Exit>;
  /** Sends `signal`, escalates to SIGKILL after `graceMs`, resolves once the process has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Thrown by {@link waitUntil} when a service did not become ready in time. */
export class ServiceTimeout extends Error {
  override name = 'ServiceTimeout';
}

const running = new Set<ChildProcess>();

// Last resort: a parent that exits for any reason takes its children with it. (A parent killed with
// SIGKILL cannot: the pid files let the next start find and stop what it left behind.)
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** "code 1" or "signal SIGKILL": how a process ended, for log lines. */
export const describeExit = ({ code, signal }: Exit): string => (signal ? `signal ${signal}` : `code ${code ?? 'unknown'}`);

/**
 * Spawns a long-running child in its own process group, so a terminal's Ctrl-C reaches only the
 * parent, which then stops the children in order. Output goes to `onOutput` line by line. With
 * `pidFile`, the child's pid is kept there while it runs, so a later start can find it if this
 * process dies without stopping it (see dev/leftovers.ts).
 */
export function startService(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { onOutput?: (line: string) => void; pidFile?: string } = {},
): Service {
  const { onOutput, pidFile, ...spawnOptions } = options;
  const child = spawn(command, args, { ...spawnOptions, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  if (pidFile && child.pid !== undefined) writePidFile(pidFile, child.pid);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: child.exitCode, signal: child.signalCode }));
  });
  void exited.then(() => {
    running.delete(child);
    if (pidFile && child.pid !== undefined) removePidFile(pidFile, child.pid);
  });
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onOutput?.(line);
    });
  }
  return {
    name,
    process: child,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Polls `check` until it resolves truthy; fails early when `service` exits. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  { timeoutMs = 60_000, service }: { timeoutMs?: number; service?: Service } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service && (service.process.exitCode !== null || service.process.signalCode !== null)) {
      throw new ServiceTimeout(`${what}: ${service.name} exited (code ${service.process.exitCode ?? service.process.signalCode})`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new ServiceTimeout(`${what}: not ready after ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** Where supervisors report restarts: a pino logger fits. */
export interface SupervisionLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A child process kept running: see {@link supervise}. */
export interface Supervised<T> {
  /** The instance running now (the latest started). */
  current(): T;
  /** How many times it was restarted. */
  restarts(): number;
  /** Stops supervising, then stops the running instance (waiting for a restart under way to finish first). */
  stop(): Promise<void>;
}

/**
 * Starts a service with `start` and keeps it running: when its process exits without being stopped,
 * the exit is logged ("postgres exited (code 1); restarting in 1000 ms") and `start` runs again after a
 * backoff; a restart that fails is logged and tried again with a longer delay. The first start's failure
 * is the caller's (thrown).
 */
export async function supervise<T extends { service: Service; stop(): Promise<void> }>(
  name: string,
  start: () => Promise<T>,
  log: SupervisionLog,
  backoffOptions: BackoffOptions = {},
): Promise<Supervised<T>> {
  let current = await start();
  let restarts = 0;
  let stopping = false;
  let restarting = false;
  const backoff = new Backoff(backoffOptions);

  const watch = async (): Promise<void> => {
    for (;;) {
      const startedAt = Date.now();
      const exit = await current.service.exited;
      if (stopping) return;
      restarting = true;
      const delay = backoff.next(startedAt);
      log.warn({ component: name, code: exit.code, signal: exit.signal, restartInMs: delay }, `${name} exited (${describeExit(exit)}); restarting in ${delay} ms`);
      try {
        for (;;) {
          if (!(await backoff.wait())) return;
          try {
            current = await start();
            restarts += 1;
            log.warn({ component: name, restarts, pid: current.service.process.pid }, `${name} restarted`);
            break;
          } catch (error) {
            if (stopping) return;
            const next = backoff.next();
            log.error({ component: name, err: (error as Error).message, restartInMs: next }, `${name} did not start again: ${(error as Error).message}; retrying in ${next} ms`);
          }
        }
      } finally {
        restarting = false;
      }
      if (stopping) return;
    }
  };
  const watching = watch();

  return {
    current: () => current,
    restarts: () => restarts,
    async stop() {
      stopping = true;
      backoff.stop();
      // A restart under way finishes first (what it started is stopped next); a watched instance that is
      // stopped ends the watch.
      if (restarting) await watching;
      await current.stop();
      await watching;
    },
  };
}
