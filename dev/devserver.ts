import fs from 'node:fs';
import path from 'node:path';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { readPidFile, stopLeftover } from './leftovers.js';
import { startService, waitUntil, type Service } from './service.js';
import { SEARCH_ATTRIBUTES } from '../lib/temporal.js';

export interface DevServerOptions {
  /** The Temporal CLI binary. */
  cli: string;
  port: number;
  /** Web UI port; omit for a headless server. */
  uiPort?: number;
  /** SQLite file that keeps state across restarts; omit for an in-memory server. */
  dbFile?: string;
  namespace?: string;
  /** Keeps the server's pid here while it runs (see {@link stopLeftoverDevServer}). */
  pidFile?: string;
  onOutput?: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  service: Service;
  stop(): Promise<void>;
}

/** Whether a Temporal frontend answers with these connection options (within a second to connect). */
export async function temporalAnswers(options: ConnectionOptions): Promise<boolean> {
  const connection = await Connection.connect({ ...options, connectTimeout: 1_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

/** Runs `temporal server start-dev` with Meridian's search attributes and waits until its frontend answers. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const address = `127.0.0.1:${options.port}`;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port), '--log-level', 'warn'];
  args.push('--namespace', options.namespace ?? 'default');
  args.push(...(options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless']));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  for (const name of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${name}=Keyword`);

  const service = startService('temporal', options.cli, args, { onOutput: options.onOutput, pidFile: options.pidFile });
  await waitUntil(`Temporal dev server on ${address}`, () => temporalAnswers({ address }), { service, timeoutMs: 120_000 });
  return {
    address,
    uiUrl: options.uiPort ? `http://localhost:${options.uiPort}` : undefined,
    service,
    stop: () => service.stop('SIGTERM', 15_000),
  };
}

/**
 * Stops the dev server an earlier start left running (its parent was killed with SIGKILL): the pid in
 * `pidFile`, if that process is alive and is a `temporal server start-dev` on `dbFile`. Anything else
 * under that pid is left alone.
 */
export async function stopLeftoverDevServer({ cli, pidFile, dbFile, log }: { cli?: string; pidFile: string; dbFile: string; log?: (message: string) => void }) {
  const pid = readPidFile(pidFile);
  if (pid === undefined) return 'none';
  const programs = ['temporal', ...(cli ? [path.basename(cli)] : [])];
  const found = await stopLeftover({ name: 'temporal', pid, identity: { programs, args: ['server', 'start-dev', '--db-filename', dbFile] }, signal: 'SIGTERM', graceMs: 15_000, log });
  fs.rmSync(pidFile, { force: true });
  return found;
}
