import type pg from 'pg';
import { open, seal, type Keyring } from '../trust/encryption.js';
import { withTransaction } from './tx.js';

/** Every column pair that holds a sealed secret: the ciphertext and the id of its key. */
const SEALED = [
  { table: 'webhooks', ciphertext: 'secret_ciphertext', keyId: 'secret_key_id' },
  { table: 'credential_slots', ciphertext: 'secret_ciphertext', keyId: 'secret_key_id' },
  { table: 'definitions', ciphertext: 'default_credentials_ciphertext', keyId: 'default_credentials_key_id' },
] as const;

const BATCH = 500;

/** How many stored secrets each key id seals. */
export async function keyUsage(pool: pg.Pool): Promise<Map<string, number>> {
  const usage = new Map<string, number>();
  for (const { table, keyId } of SEALED) {
    const { rows } = await pool.query<{ key_id: string; n: number }>(`SELECT ${keyId} AS key_id, count(*)::int AS n FROM ${table} WHERE ${keyId} IS NOT NULL GROUP BY 1`);
    for (const row of rows) usage.set(row.key_id, (usage.get(row.key_id) ?? 0) + row.n);
  }
  return usage;
}

/**
 * Re-encrypts every secret that is not sealed under the keyring's current key, in batches, each row
 * locked while it is rewritten; the plaintext never leaves this function. Returns how many it rewrote.
 */
export async function reencryptAll(pool: pg.Pool, keyring: Keyring): Promise<number> {
  let total = 0;
  for (const { table, ciphertext, keyId } of SEALED) {
    for (;;) {
      const done = await withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ ctid: string; ciphertext: Buffer; key_id: string }>(
          `SELECT ctid, ${ciphertext} AS ciphertext, ${keyId} AS key_id FROM ${table}
           WHERE ${keyId} IS NOT NULL AND ${keyId} <> $1 LIMIT ${BATCH} FOR UPDATE`,
          [keyring.current],
        );
        for (const row of rows) {
          const sealed = seal(keyring, open(keyring, { ciphertext: row.ciphertext, keyId: row.key_id }));
          await client.query(`UPDATE ${table} SET ${ciphertext} = $1, ${keyId} = $2 WHERE ctid = $3`, [sealed.ciphertext, sealed.keyId, row.ctid]);
        }
        return rows.length;
      });
      total += done;
      if (done < BATCH) break;
    }
  }
  return total;
}
