import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, MigrationChanged, migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { emptyDatabase, tempDir } from './helpers.js';

describe('migrations', () => {
  let pool: pg.Pool;
  const files = fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort();

  beforeAll(async () => {
    pool = createPool(await emptyDatabase());
  });
  afterAll(() => pool.end());

  it('apply in order on an empty database and are a no-op the second time', async () => {
    const first = await migrate(pool);
    expect(first.applied).toEqual(files);
    expect(first.skipped).toEqual([]);

    const second = await migrate(pool);
    expect(second.applied).toEqual([]);
    expect(second.skipped).toEqual(files);

    const { rows } = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(files);
  });

  it('are safe from several processes at once: each file is applied exactly once', async () => {
    const pools = await Promise.all([1, 2, 3].map(async () => createPool(await emptyDatabase())));
    const url = (pools[0]!.options.connectionString as string) ?? '';
    await Promise.all(pools.map((p) => p.end()));
    const racers = [1, 2, 3, 4].map(() => createPool(url));
    try {
      const results = await Promise.all(racers.map((p) => migrate(p)));
      expect(results.flatMap((r) => r.applied).sort()).toEqual(files);
    } finally {
      await Promise.all(racers.map((p) => p.end()));
    }
  });

  it('roll back a failing migration and record nothing of it', async () => {
    const dir = tempDir('migrations');
    fs.writeFileSync(path.join(dir, '001_ok.sql'), 'CREATE TABLE kept (id int);');
    fs.writeFileSync(path.join(dir, '002_broken.sql'), 'CREATE TABLE half (id int); SELECT no_such_function();');
    const fresh = createPool(await emptyDatabase());
    try {
      await expect(migrate(fresh, dir)).rejects.toThrow(/002_broken\.sql failed/);
      const { rows } = await fresh.query("SELECT to_regclass('kept') AS kept, to_regclass('half') AS half");
      expect(rows[0]).toEqual({ kept: 'kept', half: null });
      const versions = await fresh.query('SELECT version FROM schema_migrations');
      expect(versions.rows.map((r) => r.version)).toEqual(['001_ok.sql']);
    } finally {
      await fresh.end();
    }
  });

  it('refuse to run when an applied migration was edited', async () => {
    const dir = tempDir('migrations');
    fs.writeFileSync(path.join(dir, '001_ok.sql'), 'CREATE TABLE t1 (id int);');
    const fresh = createPool(await emptyDatabase());
    try {
      await migrate(fresh, dir);
      fs.writeFileSync(path.join(dir, '001_ok.sql'), 'CREATE TABLE t1 (id bigint);');
      await expect(migrate(fresh, dir)).rejects.toThrow(MigrationChanged);
    } finally {
      await fresh.end();
    }
  });
});
