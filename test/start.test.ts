import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStack, stackEnv } from '../dev/local-stack.js';
import { tempDir } from './helpers.js';

/** Processes whose command line mentions `dir` (the stack's data directory). */
function processesUsing(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(dir) && !line.includes('ps -eo'));
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
