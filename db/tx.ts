import type pg from 'pg';

export type Db = pg.Pool | pg.PoolClient;

/** Runs `fn` in one transaction on an already checked-out client: committed if it resolves, rolled back if it throws. */
export async function inTransaction<T>(client: pg.PoolClient, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Runs `fn` in one transaction on one connection of the pool (see {@link inTransaction}), then releases it. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await inTransaction(client, fn);
  } finally {
    client.release();
  }
}

/** The SQLSTATE and constraint of a PostgreSQL error, if it is one. */
export function pgError(error: unknown): { code: string; constraint?: string } | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' && /^[0-9A-Z]{5}$/.test(error.code)) {
    return { code: error.code, constraint: (error as { constraint?: string }).constraint };
  }
  return undefined;
}

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
export const CHECK_VIOLATION = '23514';
