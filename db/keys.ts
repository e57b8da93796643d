import type pg from 'pg';
import { BOUND, open, seal, type Binding, type Keyring } from '../trust/encryption.js';
import { caKeyBinding } from './authorities.js';
import { slotSecretBindings } from './credentials.js';
import { defaultCredentialsBinding } from './definitions.js';
import { webhookSecretBinding } from './webhooks.js';
import { withTransaction } from './tx.js';

/**
 * Every column pair that holds a sealed secret: the ciphertext and the id of its key, and, where secrets
 * are bound to their row, the row's key columns and the bindings they make (the first is the row's own).
 */
const SEALED: Array<{ table: string; ciphertext: string; keyId: string; rowKey?: { columns: string; bindings: (row: Record<string, string>) => Binding[] } }> = [
  {
    table: 'webhooks',
    ciphertext: 'secret_ciphertext',
    keyId: 'secret_key_id',
    rowKey: { columns: 'tenant_id, id', bindings: (r) => [webhookSecretBinding(r.tenant_id!, r.id!)] },
  },
  {
    table: 'credential_slots',
    ciphertext: 'secret_ciphertext',
    keyId: 'secret_key_id',
    rowKey: { columns: 'tenant_id, api_id, runtime_id', bindings: (r) => slotSecretBindings(r.tenant_id!, r.api_id!, r.runtime_id!) },
  },
  {
    table: 'certificate_authorities',
    ciphertext: 'key_ciphertext',
    keyId: 'key_id',
    rowKey: { columns: 'fingerprint', bindings: (r) => [caKeyBinding(r.fingerprint!)] },
  },
  {
    table: 'definitions',
    ciphertext: 'default_credentials_ciphertext',
    keyId: 'default_credentials_key_id',
    rowKey: { columns: 'tenant_id, id', bindings: (r) => [defaultCredentialsBinding(r.tenant_id!, r.id!)] },
  },
];

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
 * Re-encrypts every secret that is not sealed under the keyring's current key, or not bound to its row
 * where secrets are bound (sealed before bindings existed), in batches, each row locked while it is
 * rewritten; the plaintext never leaves this function. Returns how many it rewrote.
 */
export async function reencryptAll(pool: pg.Pool, keyring: Keyring): Promise<number> {
  let total = 0;
  for (const { table, ciphertext, keyId, rowKey } of SEALED) {
    const unbound = rowKey ? `OR substring(${ciphertext} FROM 1 FOR ${BOUND.length}) <> $2` : '';
    for (;;) {
      const done = await withTransaction(pool, async (client) => {
        const { rows } = await client.query<{ ctid: string; ciphertext: Buffer; key_id: string } & Record<string, string>>(
          `SELECT ctid, ${ciphertext} AS ciphertext, ${keyId} AS key_id${rowKey ? `, ${rowKey.columns}` : ''} FROM ${table}
           WHERE ${keyId} IS NOT NULL AND (${keyId} <> $1 ${unbound}) LIMIT ${BATCH} FOR UPDATE`,
          rowKey ? [keyring.current, BOUND] : [keyring.current],
        );
        for (const row of rows) {
          const bindings = rowKey?.bindings(row);
          const sealed = seal(keyring, open(keyring, { ciphertext: row.ciphertext, keyId: row.key_id, boundTo: bindings }), bindings?.[0]);
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
