import pg from 'pg';
import type { Logger } from '../lib/logger.js';

/**
 * A connection pool that never lets a lost connection crash the process. Every client it creates gets
 * an `error` listener for its whole life: pg emits `error` on a client whose connection dies (server
 * restart, `pg_terminate_backend`, network) whether it is idle or checked out, and an `error` event
 * without a listener ends the process. The query that was running fails on its own; the dead client
 * is discarded when it is released (see `withTransaction`).
 */
export function createPool(connectionString: string, logger?: Logger, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
  pool.on('connect', (client) => {
    client.on('error', (error) => logger?.warn({ err: error.message, code: (error as { code?: string }).code }, 'PostgreSQL connection lost'));
  });
  // Idle clients' errors also reach the pool (which removes them); the client's listener has logged them.
  pool.on('error', () => undefined);
  return pool;
}

/** One round trip to PostgreSQL (readiness probes); throws when the database is unreachable. */
export async function ping(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT 1');
}
