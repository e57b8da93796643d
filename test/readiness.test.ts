import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../dev/embedded-postgres.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { freePort } from '../dev/local-stack.js';
import { call, startTestApi, tempDir, type TestApi } from './helpers.js';

describe('readiness follows PostgreSQL', () => {
  let postgres: EmbeddedPostgres;
  let api: TestApi;
  let dir: string;
  let port: number;

  beforeAll(async () => {
    dir = path.join(tempDir('readiness'), 'pg');
    port = await freePort();
    postgres = await startEmbeddedPostgres({ dir, port });
    const pool = createPool(postgres.url);
    await migrate(pool);
    await pool.end();
    api = await startTestApi({ databaseUrl: postgres.url });
  });
  afterAll(async () => {
    await api.stop();
    await postgres.stop();
  });

  it('turns 503 naming PostgreSQL when it stops, and 200 again when it is back', async () => {
    expect((await call(`${api.url}/readyz`)).status).toBe(200);

    await postgres.stop();
    const down = await call(`${api.url}/readyz`);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unavailable');
    expect(down.body.checks.postgres).toMatch(/^unavailable/);
    expect(down.body.checks.temporal).toBe('ok');

    postgres = await startEmbeddedPostgres({ dir, port });
    const up = await call(`${api.url}/readyz`);
    expect(up.status).toBe(200);
    expect(up.body.checks).toEqual({ postgres: 'ok', temporal: 'ok' });
  });
});
