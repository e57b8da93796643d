import fs from 'node:fs';
import { runtimeFiles, writeAtomically } from '../../runtime/files.js';
import type { RuntimeProvider } from './provider.js';

export const RUNTIME_HOST_QUEUE = 'runtime-host';

/**
 * Virtual runtimes hosted by one runtime-host worker (task queue `runtime-host`): each has its own
 * directory, key, certificate and agent workflow, but no process of its own. For scale runs and tests.
 */
export function simulatedProvider({ root, taskQueue = RUNTIME_HOST_QUEUE }: { root: string; taskQueue?: string }): RuntimeProvider {
  return {
    taskQueue: () => taskQueue,
    async provision({ runtimeId }) {
      fs.mkdirSync(runtimeFiles(root, runtimeId).dir, { recursive: true, mode: 0o700 });
    },
    async inject({ runtimeId }, injection) {
      writeAtomically(runtimeFiles(root, runtimeId).injected, JSON.stringify(injection));
    },
    async status({ runtimeId }) {
      return fs.existsSync(runtimeFiles(root, runtimeId).dir) ? 'RUNNING' : 'STOPPED';
    },
    async deprovision({ runtimeId }) {
      fs.rmSync(runtimeFiles(root, runtimeId).dir, { recursive: true, force: true });
    },
  };
}
