import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './setup/ports.js';
import { tempDir } from './helpers.js';

/** `npm start`'s program with its own data directory and ports, as a user would run it. */
class Stack {
  child?: ChildProcess;
  output = '';
  constructor(readonly env: Record<string, string>) {}

  async start(): Promise<number> {
    const started = Date.now();
    this.output = '';
    this.child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { env: { ...process.env, ...this.env }, stdio: 'pipe' });
    this.child.stdout!.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.output += c.toString()));
    const url = `http://127.0.0.1:${this.env.MERIDIAN_HTTP_PORT}/readyz`;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`start exited early:\n${this.output}`);
      const ready = await fetch(url).then((r) => r.status === 200, () => false);
      if (ready && this.output.includes('Meridian is ready')) return Date.now() - started;
      if (Date.now() - started > 120_000) throw new Error(`not ready after 120 s:\n${this.output}`);
      await sleep(250);
    }
  }

  /** Ctrl-C: SIGINT to the foreground program, then wait for it to exit. */
  async interrupt(): Promise<number | null> {
    const child = this.child!;
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    return exited;
  }
}

/** Processes whose command line mentions `dir` (the stack's data directory). */
function processesUsing(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(dir) && !line.includes('ps -eo'));
}

describe('npm start', () => {
  const dataDir = path.join(tempDir('start'), 'data');
  let stack: Stack;
  afterAll(async () => {
    await stack?.interrupt();
  });

  it('brings up the stack, stops cleanly on Ctrl-C and keeps state and in-flight workflows across restarts', async () => {
    const [http, temporal, ui, pgPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    stack = new Stack({
      MERIDIAN_DATA_DIR: dataDir,
      MERIDIAN_HTTP_PORT: String(http),
      TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
      TEMPORAL_UI_PORT: String(ui),
      MERIDIAN_PG_PORT: String(pgPort),
    });

    await stack.start();
    expect(stack.output).toMatch(/Admin token\s+[\w-]{43}\n\s+\(shown once/);
    expect(stack.output).toContain(`Temporal UI    http://localhost:${ui}`);
    expect((await fetch(`http://127.0.0.1:${ui}/`)).status).toBe(200);

    // State in PostgreSQL and an in-flight workflow in Temporal, both to be found after a restart.
    const password = fs.readFileSync(path.join(dataDir, 'postgres.password'), 'utf8');
    const db = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'meridian', password, database: 'meridian' });
    await db.connect();
    await db.query("INSERT INTO tenants (name) VALUES ('survivor')");
    await db.end();
    const connection = await Connection.connect({ address: `127.0.0.1:${temporal}` });
    await new Client({ connection }).workflow.start('neverPolled', { taskQueue: 'nobody-polls-this', workflowId: 'in-flight' });
    await connection.close();

    expect(await stack.interrupt()).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);

    const secondStart = await stack.start();
    expect(secondStart).toBeLessThan(30_000);
    expect(stack.output).toContain('Admin token    shown on the first start only');
    expect(stack.output).toMatch(/Migrations\s+0 applied/);
    const again = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'meridian', password, database: 'meridian' });
    await again.connect();
    expect((await again.query("SELECT 1 FROM tenants WHERE name = 'survivor'")).rowCount).toBe(1);
    await again.end();
    const reconnect = await Connection.connect({ address: `127.0.0.1:${temporal}` });
    const description = await new Client({ connection: reconnect }).workflow.getHandle('in-flight').describe();
    expect(description.status.name).toBe('RUNNING');
    await reconnect.close();

    expect(await stack.interrupt()).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);
  }, 300_000);
});
