import type pg from 'pg';
import { beginStatement } from './acting.js';

export type Db = pg.Pool | pg.PoolClient;

/** Clients whose session is in doubt (a failed ROLLBACK): they must not go back to the pool. */
const unusable = new WeakSet<pg.ClientBase>();

/**
 * Runs `fn` in one transaction on an already checked-out client: committed if it resolves, rolled back if it
 * throws. Inside an acting scope (db/acting.ts) the transaction tells the audit triggers who acts.
 */
export async function inTransaction<T>(client: pg.PoolClient, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  try {
    // Inside the try: a BEGIN that took, followed by a failed setting, is rolled back.
    await client.query(beginStatement(client));
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A client whose ROLLBACK failed may still be inside the transaction (or dead): never reuse it.
    await client.query('ROLLBACK').catch(() => unusable.add(client));
    throw error;
  }
}

/**
 * Runs `fn` in one transaction on one connection of the pool (see {@link inTransaction}), then releases
 * it. A connection that died meanwhile (or whose state is in doubt) is released with the error, so the
 * pool discards it instead of handing it to the next caller; its `error` event is handled here as well.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => (broken ??= error);
  client.on('error', onError);
  try {
    return await inTransaction(client, fn);
  } catch (error) {
    if (isConnectionError(error) || unusable.has(client)) broken ??= error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

/** Node socket errors that mean the server could not be reached or the connection broke. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EAI_AGAIN']);
/** SQLSTATEs of a server that is going away or refuses new work: admin/crash shutdown, cannot connect now, too many connections. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
/** What `pg` and `pg-pool` throw when a connection is lost or cannot be had. */
const CONNECTION_MESSAGES = [/^Connection terminated/, /^timeout exceeded when trying to connect/, /^Client has encountered a connection error and is not queryable/];

/**
 * True when `error` (or its cause, or one of an AggregateError's errors) says PostgreSQL is unreachable or
 * the connection was lost — retryable later — rather than that the statement itself was refused.
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (typeof message === 'string' && CONNECTION_MESSAGES.some((pattern) => pattern.test(message))) return true;
  if (Array.isArray(errors) && errors.some((e) => isConnectionError(e, depth + 1))) return true;
  return cause !== undefined && cause !== error && isConnectionError(cause, depth + 1);
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
export const SERIALIZATION_FAILURE = '40001';
export const DEADLOCK_DETECTED = '40P01';
