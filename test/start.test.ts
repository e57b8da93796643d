import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, readPidFile } from '../dev/leftovers.js';
import { LocalStack, stackEnv } from '../dev/local-stack.js';
import { call, tempDir, uniqueName } from './helpers.js';

/** Processes whose command line mentions `dir` (the stack's data directory). */
function processesUsing(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(dir) && !line.includes('ps -eo'));
}

/** Kills (SIGKILL, by pid) whatever still runs with `dir` in its command line: a test's last resort. */
function killProcessesUsing(dir: string): void {
  for (const line of processesUsing(dir)) {
    const pid = Number(line.trim().split(/\s+/)[0]);
    if (pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

describe('npm start', () => {
  const dataDir = path.join(tempDir('start'), 'data');
  let stack: LocalStack;
  afterAll(async () => {
    await stack?.interrupt();
  });

  it('brings up the stack, stops cleanly on Ctrl-C and keeps state and in-flight workflows across restarts', async () => {
    const env = await stackEnv(dataDir);
    stack = new LocalStack({ ...env, LOG_LEVEL: 'info' });
    const ui = env.TEMPORAL_UI_PORT;
    const pgPort = Number(env.MERIDIAN_PG_PORT);
    const temporal = env.TEMPORAL_ADDRESS!.split(':')[1];

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

    // Ready again (start() fails unless /readyz answers 200 in time); how fast is the benchmark's business.
    await stack.start();
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

describe('npm start after a hard kill', () => {
  const dataDir = path.join(tempDir('start-kill'), 'data');
  let stack: LocalStack | undefined;
  afterAll(async () => {
    if (stack?.running) await Promise.race([stack.interrupt(), sleep(60_000)]);
    await stack?.kill();
    // Whatever a failed run left behind (orphans of a killed start included), by pid.
    killProcessesUsing(dataDir);
  }, 90_000);

  const pidOf = (file: string) => {
    const pid = readPidFile(path.join(dataDir, file));
    expect(pid, file).toBeGreaterThan(0);
    return pid!;
  };
  const ready = async (url: string) => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined))?.status === 200;
  /** GET with an admin token and a bounded wait: a stack that does not answer fails the poll, it does not hang it. */
  const get = async (url: string, token: string) => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as any;
  };
  let started = Date.now();
  const step = (what: string) => console.log(`[start-kill +${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);

  it('restarts a child that dies; after kill -9 it starts again with no manual step and in-flight provisionings end CONNECTED', async () => {
    onTestFailed(() => console.log(`stack output (last 8000 characters):\n${stack?.output.slice(-8000)}`));
    started = Date.now();
    stack = new LocalStack(await stackEnv(dataDir));
    await stack.start();
    step('stack ready');
    const token = stack.adminToken!;
    expect(token).toBeDefined();

    // Supervision: the Temporal dev server and PostgreSQL, killed under the running stack, come back by themselves.
    const temporal = pidOf('temporal.pid');
    process.kill(temporal, 'SIGKILL');
    step(`killed temporal (pid ${temporal})`);
    await expect.poll(() => stack!.output, { timeout: 30_000 }).toMatch(/temporal exited \(signal SIGKILL\); restarting/);
    await expect.poll(() => stack!.output, { timeout: 120_000, interval: 500 }).toMatch(/temporal restarted/);
    expect(pidOf('temporal.pid')).not.toBe(temporal);
    const postgres = pidOf('postgres/postmaster.pid');
    process.kill(postgres, 'SIGKILL');
    step(`killed postgres (pid ${postgres})`);
    await expect.poll(() => stack!.output, { timeout: 30_000 }).toMatch(/postgres exited \(signal SIGKILL\); restarting/);
    await expect.poll(() => stack!.output, { timeout: 120_000, interval: 500 }).toMatch(/postgres restarted/);
    await expect.poll(() => ready(stack!.url), { timeout: 60_000, interval: 500 }).toBe(true);
    expect(stack.running).toBe(true);
    step('stack ready again after its children were killed');

    // Provisionings in flight when the whole start is killed with SIGKILL.
    const runtimes: Array<{ id: string; operation: string }> = [];
    for (let i = 0; i < 3; i++) {
      const created = await call(`${stack.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated' } });
      expect(created.status, created.text).toBe(202);
      runtimes.push({ id: created.body.runtime.id, operation: created.body.operation.id });
    }
    const orphans = { temporal: pidOf('temporal.pid'), postgres: pidOf('postgres/postmaster.pid') };
    await stack.kill();
    step(`killed the start (SIGKILL); orphans: ${JSON.stringify(orphans)}`);
    await sleep(500);
    // As in real life, the children outlive their parent (PostgreSQL certainly: it ignores SIGPIPE).
    expect(isAlive(orphans.postgres)).toBe(true);

    const restart = await stack.start(120_000);
    step(`started again in ${restart} ms`);
    expect(stack.output).toMatch(/left running by an earlier start/);
    expect(isAlive(orphans.temporal)).toBe(false);
    expect(isAlive(orphans.postgres)).toBe(false);
    for (const runtime of runtimes) {
      await expect
        .poll(async () => (await get(`${stack!.url}/v1/runtimes/${runtime.id}`, token)).status?.condition, { timeout: 120_000, interval: 1_000 })
        .toBe('CONNECTED');
      await expect
        .poll(async () => (await get(`${stack!.url}/v1/operations/${runtime.operation}`, token)).state, { timeout: 60_000, interval: 1_000 })
        .toBe('SUCCEEDED');
    }
    step('every runtime CONNECTED');

    expect(await stack.interrupt()).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);
  }, 600_000);
});
