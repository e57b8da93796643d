import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** A child process Meridian started and must stop; see {@link startService}. */
export interface Service {
  name: string;
  process: ChildProcess;
  /** Sends `signal`, escalates to SIGKILL after `graceMs`, resolves once the process has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Thrown by {@link waitUntil} when a service did not become ready in time. */
export class ServiceTimeout extends Error {
  override name = 'ServiceTimeout';
}

const running = new Set<ChildProcess>();

// Last resort: a parent that exits for any reason takes its children with it.
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Spawns a long-running child in its own process group, so a terminal's Ctrl-C reaches only the
 * parent, which then stops the children in order. Output goes to `onOutput` line by line.
 */
export function startService(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { onOutput?: (line: string) => void } = {},
): Service {
  const { onOutput, ...spawnOptions } = options;
  const child = spawn(command, args, { ...spawnOptions, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  void exited.then(() => running.delete(child));
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
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
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
