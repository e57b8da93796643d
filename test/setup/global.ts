// One PostgreSQL and one Temporal dev server for the whole run; tests isolate themselves by tenant.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../dev/embedded-postgres.js';
import { migrate } from '../../db/migrate.js';
import { createPool } from '../../db/pool.js';
import { loadOrCreateCa } from '../../trust/ca.js';
import { startDevServer } from '../../dev/devserver.js';
import { buildConsole } from '../../dev/console.js';
import { ensureTemporalTools } from '../../dev/tools.js';
import { freePort } from '../../dev/local-stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalAddress: string;
    /** Empty when not installed: the SDK then downloads the test server itself. */
    testServerPath: string;
    tmpRoot: string;
    /** Directory of the run's CA (`ca.crt`, `ca.key`), shared by every test API and worker. */
    caDir: string;
    /** The console built for this run (dist/console/ of the repository is left alone). */
    consoleDir: string;
    /** The Temporal Web UI of the run's dev server, which operations link to. */
    temporalUiUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const tools = ensureTemporalTools();
  if (!tools.cli) throw new Error('the Temporal CLI is missing; see README, Troubleshooting');
  // World-readable so PostgreSQL, which runs as the postgres user under root, can use it.
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-test-'));
  fs.chmodSync(tmpRoot, 0o755);

  const [pgPort, temporalPort, uiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const [postgres, temporal] = await Promise.all([
    startEmbeddedPostgres({ dir: path.join(tmpRoot, 'postgres'), port: pgPort }),
    startDevServer({ cli: tools.cli, port: temporalPort, uiPort }),
  ]);
  const pool = createPool(postgres.url);
  await migrate(pool);
  await pool.end();

  project.provide('databaseUrl', postgres.url);
  project.provide('temporalAddress', temporal.address);
  project.provide('temporalUiUrl', temporal.uiUrl!);
  project.provide('testServerPath', tools.testServer ?? '');
  project.provide('tmpRoot', tmpRoot);
  const caDir = path.join(tmpRoot, 'ca');
  loadOrCreateCa({ dataDir: caDir });
  project.provide('caDir', caDir);
  project.provide('consoleDir', await buildConsole(path.join(tmpRoot, 'console')));

  return async () => {
    await Promise.all([temporal.stop(), postgres.stop()]);
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  };
}
