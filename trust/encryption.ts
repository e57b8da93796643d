import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Thrown when a ciphertext names a key this keyring does not hold, or fails authentication. */
export class DecryptionFailed extends Error {
  override name = 'DecryptionFailed';
}

/**
 * AES-256-GCM keys by id; `current` encrypts, all of them decrypt, so keys can be rotated. A keyring
 * read from a key file follows that file: a rotation by `meridian keys rotate` reaches running processes.
 */
export interface Keyring {
  current: string;
  keys: Map<string, Buffer>;
  /** The key file this keyring was read from (absent when the keys came from the environment). */
  file?: string;
  /** The file's modification time when it was read. */
  mtimeMs?: number;
}

/**
 * Where a sealed secret is stored: a row of a table, of a tenant. A secret sealed for one is bound to it
 * (AES-GCM associated data): copied to another row or tenant, it no longer opens.
 */
export interface Binding {
  table: string;
  /** The row's key, e.g. its id. */
  row: string;
  tenant: string;
}

export interface Sealed {
  /** {@link BOUND} ‖ iv (12) ‖ tag (16) ‖ ciphertext when sealed for a binding; iv ‖ tag ‖ ciphertext when not. */
  ciphertext: Buffer;
  keyId: string;
  /**
   * The bindings it may be opened under, as read from where it is stored (its row's key). A bound secret
   * opens only under one of them; an unbound one (sealed before bindings existed) opens regardless.
   */
  boundTo?: Binding[];
}

/** Prefix of a ciphertext sealed for a binding (version 2); unbound ciphertexts start with their random IV. */
export const BOUND = Buffer.from('meridv2:', 'latin1');

/** A key's id: the first 16 hex digits of its SHA-256, so the same key always has the same id. */
export const keyId = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 16);

const decodeKey = (text: string): Buffer => {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) throw new Error('an encryption key must be base64 of exactly 32 bytes');
  return key;
};

const ring = (keys: Buffer[], file?: string, mtimeMs?: number): Keyring => ({
  current: keyId(keys[0]!),
  keys: new Map(keys.map((key) => [keyId(key), key])),
  ...(file && { file, mtimeMs }),
});

/** The key file of a data directory: one base64 key per line, the current one first. */
export const keyFile = (dataDir: string) => path.join(dataDir, 'encryption.key');

function readKeyFile(file: string): Keyring {
  const mtimeMs = fs.statSync(file).mtimeMs;
  const keys = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').map(decodeKey);
  if (keys.length === 0) throw new Error(`${file} holds no key`);
  return ring(keys, file, mtimeMs);
}

/**
 * The keyring from `MERIDIAN_ENCRYPTION_KEY` (current) and `MERIDIAN_ENCRYPTION_PREVIOUS_KEYS`
 * (comma-separated, still decrypting), or else from the data directory's key file, generated (0600)
 * on first use.
 */
export function loadKeyring(dataDir: string, envKey?: string, previousKeys?: string): Keyring {
  if (envKey) return ring([envKey, ...(previousKeys ?? '').split(',').filter((k) => k.trim() !== '')].map(decodeKey));
  const file = keyFile(dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    fs.writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return readKeyFile(file);
}

/** Re-reads the key file when it changed since it was read. */
function follow(keyring: Keyring): void {
  if (!keyring.file) return;
  let mtimeMs: number;
  try {
    mtimeMs = fs.statSync(keyring.file).mtimeMs;
  } catch {
    return;
  }
  if (mtimeMs === keyring.mtimeMs) return;
  Object.assign(keyring, readKeyFile(keyring.file));
}

/**
 * Makes a new key the current one in the key file (the old ones stay, for decryption); returns its id.
 * Written to a temporary file and renamed, so a reader sees the old or the new file, never half.
 */
export function addKey(keyring: Keyring): string {
  if (!keyring.file) throw new Error('keys from MERIDIAN_ENCRYPTION_KEY are rotated by setting a new one (the old one into MERIDIAN_ENCRYPTION_PREVIOUS_KEYS)');
  follow(keyring);
  const key = randomBytes(32);
  const lines = [key, ...keyring.keys.values()].map((k) => k.toString('base64'));
  writeKeyFile(keyring.file, lines);
  Object.assign(keyring, readKeyFile(keyring.file));
  return keyId(key);
}

/** Drops keys from the key file; the current key cannot be dropped. */
export function removeKeys(keyring: Keyring, ids: string[]): void {
  if (!keyring.file) throw new Error('keys from the environment are removed from MERIDIAN_ENCRYPTION_PREVIOUS_KEYS');
  follow(keyring);
  if (ids.includes(keyring.current)) throw new Error('the current key cannot be removed');
  // The current key is the map's first entry, and stays first.
  writeKeyFile(keyring.file, [...keyring.keys].filter(([id]) => !ids.includes(id)).map(([, key]) => key.toString('base64')));
  Object.assign(keyring, readKeyFile(keyring.file));
}

function writeKeyFile(file: string, lines: string[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${lines.join('\n')}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** The associated data of a binding: unambiguous (JSON), so no two bindings share it. */
const associatedData = (binding: Binding) => Buffer.from(JSON.stringify(['meridian-secret', binding.table, binding.row, binding.tenant]), 'utf8');

/** Whether a ciphertext was sealed for a binding. */
const isBound = (ciphertext: Buffer) => ciphertext.length > BOUND.length && ciphertext.subarray(0, BOUND.length).equals(BOUND);

/**
 * Encrypts `plaintext` (AES-256-GCM) under the keyring's current key, bound to where it is stored when
 * `binding` is given (every secret stored in PostgreSQL should be).
 */
export function seal(keyring: Keyring, plaintext: string, binding?: Binding): Sealed {
  follow(keyring);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyring.keys.get(keyring.current)!, iv);
  if (binding) cipher.setAAD(associatedData(binding));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { ciphertext: Buffer.concat([...(binding ? [BOUND] : []), iv, cipher.getAuthTag(), body]), keyId: keyring.current };
}

/** Decrypts iv ‖ tag ‖ ciphertext with `aad`; undefined when it fails authentication. */
function decrypt(key: Buffer, data: Buffer, aad?: Buffer): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
    if (aad) decipher.setAAD(aad);
    decipher.setAuthTag(data.subarray(12, 28));
    return Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * Decrypts what {@link seal} sealed under any key of the keyring: a bound secret only under one of
 * `sealed.boundTo`, an unbound one as it is. Throws DecryptionFailed otherwise (naming where, never what).
 */
export function open(keyring: Keyring, sealed: Sealed): string {
  if (!keyring.keys.has(sealed.keyId)) follow(keyring);
  const key = keyring.keys.get(sealed.keyId);
  if (!key) throw new DecryptionFailed(`no encryption key with id ${sealed.keyId}`);
  if (!isBound(sealed.ciphertext)) {
    const plaintext = decrypt(key, sealed.ciphertext);
    if (plaintext === undefined) throw new DecryptionFailed('a ciphertext failed authentication');
    return plaintext;
  }
  const bindings = sealed.boundTo ?? [];
  const data = sealed.ciphertext.subarray(BOUND.length);
  for (const binding of bindings) {
    const plaintext = decrypt(key, data, associatedData(binding));
    if (plaintext !== undefined) return plaintext;
  }
  const where = bindings[0] ? `${bindings[0].table} row ${bindings[0].row} of tenant ${bindings[0].tenant}` : 'a place without a binding';
  throw new DecryptionFailed(`a secret stored in ${where} failed authentication: it was sealed for another row or tenant, or altered`);
}
