import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { inTransaction, isConnectionError } from './tx.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Key of the advisory lock that serialises migrators across processes ("meridian" in ASCII). */
const LOCK_KEY = 0x6d6572696469616en;

/** Thrown by {@link migrate} when an applied migration's file has changed since it was applied. */
export class MigrationChanged extends Error {
  override name = 'MigrationChanged';
}

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

/**
 * Applies every `NNN_name.sql` file of `dir` not yet recorded in `schema_migrations`, in order, each
 * in its own transaction. An advisory lock makes concurrent runs from several processes safe.
 */
export async function migrate(pool: pg.Pool, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const files = (await fs.readdir(dir)).filter((f) => /^\d+_[\w-]+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  // A lost connection fails the running statement; its 'error' event must not end the process.
  let broken: Error | undefined;
  const onError = (error: Error) => (broken ??= error);
  client.on('error', onError);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY.toString()]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    text PRIMARY KEY,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: string; checksum: string }>('SELECT version, checksum FROM schema_migrations');
    const done = new Map(rows.map((r) => [r.version, r.checksum]));
    const result: MigrationResult = { applied: [], skipped: [] };
    for (const file of files) {
      const sql = await fs.readFile(path.join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const recorded = done.get(file);
      if (recorded !== undefined) {
        if (recorded !== checksum) throw new MigrationChanged(`migration ${file} was changed after it was applied`);
        result.skipped.push(file);
        continue;
      }
      try {
        await inTransaction(client, async () => {
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)', [file, checksum]);
        });
      } catch (error) {
        throw new Error(`migration ${file} failed: ${(error as Error).message}`, { cause: error });
      }
      result.applied.push(file);
    }
    return result;
  } catch (error) {
    if (isConnectionError(error)) broken ??= error as Error;
    throw error;
  } finally {
    // A session whose unlock failed may still hold the lock: discarding the connection releases it.
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY.toString()]).catch((error: Error) => (broken ??= error));
    client.removeListener('error', onError);
    client.release(broken);
  }
}
