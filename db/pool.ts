import pg from 'pg';
import type { Logger } from '../lib/logger.js';

/** A connection pool whose idle-client errors (server restarts) are logged instead of crashing the process. */
export function createPool(connectionString: string, logger?: Logger, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  pool.on('error', (error) => logger?.warn({ err: error.message }, 'idle PostgreSQL connection failed'));
  return pool;
}

/** One round trip to PostgreSQL (readiness probes); throws when the database is unreachable. */
export async function ping(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT 1');
}
