import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OutboundConfig } from '../../lib/config.js';
import { PROJECT_ROOT, modulePath, nodeArgs } from '../../lib/modules.js';
import { readJson, runtimeFiles, writeAtomically, type GatewayFile, type LocalRuntimeConfig, type RuntimeFiles } from '../../runtime/files.js';
import type { RuntimeProvider, RuntimeRef } from './provider.js';

const RUNTIME_MAIN = modulePath('../../runtime/main', import.meta.url);
const START_TIMEOUT_MS = 120_000;

export interface LocalProviderOptions {
  /** Parent of every local runtime's directory (`<data>/runtimes`). */
  root: string;
  temporal: LocalRuntimeConfig['temporal'];
  /** What the runtime's gateway may call (MERIDIAN_OUTBOUND_ALLOW_PRIVATE). @default private addresses refused */
  outbound?: OutboundConfig;
}

/**
 * `runtime.json` as this provider writes it: how the process starts, and what its gateway may call
 * (absent in files written before the setting existed: private addresses refused).
 */

/** Is `pid` a live process started for `dir`? (A recycled pid of another program is not.) */
function alive(pid: number | undefined, dir: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

/** Local runtimes: process-level controls for `npm start`, which owns the whole machine's stack. */
export interface LocalRuntimes extends RuntimeProvider {
  /** Stops every local runtime process, keeping their state (Ctrl-C of `npm start`). */
  stopAll(): Promise<number>;
  /** Starts again every local runtime whose process is not running (the next `npm start`). */
  resumeAll(): Promise<number>;
}

/** A real runtime process on this machine per runtime, detached and keyed by runtime id. */
export function localProvider({ root, temporal, outbound = { allowPrivate: false } }: LocalProviderOptions): LocalRuntimes {
  const pidOf = (files: RuntimeFiles) => readJson<{ pid: number }>(files.process)?.pid;
  const running = (files: RuntimeFiles) => alive(pidOf(files), files.dir);

  const stop = async (files: RuntimeFiles) => {
    const pid = pidOf(files);
    if (!pid || !alive(pid, files.dir)) return false;
    process.kill(-pid, 'SIGTERM');
    const deadline = Date.now() + 15_000;
    while (alive(pid, files.dir) && Date.now() < deadline) await sleep(100);
    if (alive(pid, files.dir)) process.kill(-pid, 'SIGKILL');
    return true;
  };
  const runtimeIds = () => (fs.existsSync(root) ? fs.readdirSync(root).filter((id) => fs.existsSync(runtimeFiles(root, id).process)) : []);

  const provider: LocalRuntimes = {
    async stopAll() {
      const stopped = await Promise.all(runtimeIds().map((id) => stop(runtimeFiles(root, id))));
      return stopped.filter(Boolean).length;
    },

    async resumeAll() {
      let resumed = 0;
      for (const runtimeId of runtimeIds()) {
        if (running(runtimeFiles(root, runtimeId))) continue;
        await provider.provision({ runtimeId, tenantId: '' }, () => undefined);
        resumed++;
      }
      return resumed;
    },

    taskQueue: (runtimeId) => `runtime-${runtimeId}`,

    async provision({ runtimeId }: RuntimeRef, heartbeat) {
      const files = runtimeFiles(root, runtimeId);
      fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
      let pid = pidOf(files);
      if (!alive(pid, files.dir)) {
        writeAtomically(files.config, JSON.stringify({ runtimeId, temporal, taskQueue: `runtime-${runtimeId}`, outbound } satisfies LocalRuntimeConfig));
        const log = fs.openSync(files.log, 'a', 0o600);
        const child = spawn(process.execPath, [...nodeArgs(RUNTIME_MAIN), '--dir', files.dir], { cwd: PROJECT_ROOT, detached: true, stdio: ['ignore', log, log] });
        fs.closeSync(log);
        child.unref();
        pid = child.pid;
        writeAtomically(files.process, JSON.stringify({ pid }));
      }
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (readJson<GatewayFile>(files.gateway)?.pid !== pid) {
        if (!alive(pid, files.dir)) throw new Error(`the runtime process exited during start; see ${files.log}`);
        if (Date.now() > deadline) throw new Error(`the runtime process did not start within ${START_TIMEOUT_MS / 1000} s`);
        heartbeat();
        await sleep(200);
      }
    },

    async inject({ runtimeId }, injection) {
      writeAtomically(runtimeFiles(root, runtimeId).injected, JSON.stringify(injection));
    },

    async status({ runtimeId }) {
      return running(runtimeFiles(root, runtimeId)) ? 'RUNNING' : 'STOPPED';
    },

    async deprovision({ runtimeId }) {
      const files = runtimeFiles(root, runtimeId);
      await stop(files);
      fs.rmSync(files.dir, { recursive: true, force: true });
    },
  };
  return provider;
}
