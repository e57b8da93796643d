// What a stack killed without a chance to clean up (kill -9, a power cut of the terminal) leaves behind,
// and how the next start finds it: pid files in the data directory name the processes `npm start`
// started (PostgreSQL keeps its own `postmaster.pid`). A pid is only acted on when the process is alive
// and its command line shows it is ours (our binary, our data directory): a pid reused by a stranger's
// process is never signalled.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Keeps `pid` in `file` (one line). */
export function writePidFile(file: string, pid: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${pid}\n`, { mode: 0o644 });
}

/** The pid in `file` (its first line, as in PostgreSQL's `postmaster.pid`), if any. */
export function readPidFile(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text.split('\n')[0]?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Removes `file` if it still names `pid` (a newer process may have written its own). */
export function removePidFile(file: string, pid: number): void {
  if (readPidFile(file) === pid) fs.rmSync(file, { force: true });
}

/** Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not count). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return !fs.existsSync('/proc/self');
  }
}

/** The argument vector of `pid` (from /proc, else from `ps`, split on spaces), or undefined when it is gone. */
export function commandLine(pid: number): string[] | undefined {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const args = raw.split('\0');
    if (args.at(-1) === '') args.pop();
    return args.length > 0 ? args : undefined;
  } catch {
    if (fs.existsSync('/proc/self')) return undefined;
  }
  try {
    const text = execFileSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return text ? text.split(/\s+/) : undefined;
  } catch {
    return undefined;
  }
}

/** What identifies a process as ours: the program's file name and arguments it must carry. */
export interface Identity {
  /** File names the program may have (argv[0]'s last path segment), e.g. `postgres` or `temporal`. */
  programs: string[];
  /** Arguments that must all appear in its command line, e.g. its data directory. */
  args: string[];
}

/** Whether `pid` is alive and its command line matches `identity`. */
export function isOurs(pid: number, identity: Identity): boolean {
  if (!isAlive(pid)) return false;
  const argv = commandLine(pid);
  if (!argv?.[0]) return false;
  return identity.programs.includes(path.basename(argv[0])) && identity.args.every((arg) => argv.includes(arg));
}

async function exitedWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

export interface LeftoverOptions {
  /** For log lines: `temporal`, `postgres`. */
  name: string;
  pid: number;
  identity: Identity;
  /** How to ask it to stop. @default SIGTERM */
  signal?: NodeJS.Signals;
  /** How long it may take before SIGKILL. @default 15000 */
  graceMs?: number;
  log?: (message: string) => void;
}

/**
 * Stops process `pid` if it is alive and ours (see {@link isOurs}): `signal`, then SIGKILL after
 * `graceMs`. Resolves with what it found: `none` (not running), `stranger` (alive but not ours: left
 * alone) or `stopped`.
 */
export async function stopLeftover({ name, pid, identity, signal = 'SIGTERM', graceMs = 15_000, log }: LeftoverOptions): Promise<'none' | 'stranger' | 'stopped'> {
  if (!isAlive(pid)) return 'none';
  if (!isOurs(pid, identity)) return 'stranger';
  log?.(`${name} left running by an earlier start (pid ${pid}): stopping it`);
  try {
    process.kill(pid, signal);
  } catch {
    return 'none';
  }
  if (await exitedWithin(pid, graceMs)) return 'stopped';
  log?.(`${name} (pid ${pid}) did not stop within ${graceMs} ms: killing it`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  if (!(await exitedWithin(pid, 10_000))) throw new Error(`${name} (pid ${pid}) left by an earlier start does not exit; stop it by hand`);
  return 'stopped';
}

/** The file that marks a data directory as used by a running `npm start`. */
export const ownerFile = (dataDir: string) => path.join(dataDir, 'start.pid');

/**
 * Marks `dataDir` as used by this process (pid and script in `start.pid`), refusing when another live
 * start holds it; a stale mark (its process gone, or a pid now used by something else) is taken over.
 * Returns a release function (also run on exit).
 */
export function claimDataDir(dataDir: string, script = process.argv[1] ?? 'start'): () => void {
  const file = ownerFile(dataDir);
  const pid = readPidFile(file);
  if (pid !== undefined && pid !== process.pid) {
    const recorded = (fs.readFileSync(file, 'utf8').split('\n')[1] ?? '').trim();
    const argv = isAlive(pid) ? commandLine(pid) : undefined;
    if (argv && recorded && argv.some((arg) => arg === recorded || path.basename(arg) === path.basename(recorded))) {
      throw new Error(`another Meridian start (pid ${pid}) is running on ${dataDir}; stop it first (Ctrl-C there, or kill ${pid})`);
    }
  }
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${process.pid}\n${path.resolve(script)}\n`, { mode: 0o644 });
  const release = () => removePidFile(file, process.pid);
  process.once('exit', release);
  return release;
}
