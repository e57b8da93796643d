import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Thrown when a ciphertext names a key this keyring does not hold, or fails authentication. */
export class DecryptionFailed extends Error {
  override name = 'DecryptionFailed';
}

/** AES-256-GCM keys by id; `current` encrypts, all of them decrypt (so keys can be rotated). */
export interface Keyring {
  current: string;
  keys: Map<string, Buffer>;
}

export interface Sealed {
  /** iv (12) ‖ tag (16) ‖ ciphertext */
  ciphertext: Buffer;
  keyId: string;
}

/** A key's id: the first 16 hex digits of its SHA-256, so the same key always has the same id. */
export const keyId = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 16);

/**
 * The keyring from `MERIDIAN_ENCRYPTION_KEY` (base64 of 32 bytes), or from `encryption.key` in the
 * data directory, generated (0600) on first use.
 */
export function loadKeyring(dataDir: string, envKey?: string): Keyring {
  let key: Buffer;
  if (envKey) {
    key = Buffer.from(envKey, 'base64');
  } else {
    const file = path.join(dataDir, 'encryption.key');
    fs.mkdirSync(dataDir, { recursive: true });
    try {
      fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  }
  if (key.length !== 32) throw new Error('the encryption key must be 32 bytes (base64)');
  const id = keyId(key);
  return { current: id, keys: new Map([[id, key]]) };
}

export function seal(keyring: Keyring, plaintext: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyring.keys.get(keyring.current)!, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]), keyId: keyring.current };
}

export function open(keyring: Keyring, sealed: Sealed): string {
  const key = keyring.keys.get(sealed.keyId);
  if (!key) throw new DecryptionFailed(`no encryption key with id ${sealed.keyId}`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.ciphertext.subarray(0, 12));
    decipher.setAuthTag(sealed.ciphertext.subarray(12, 28));
    return Buffer.concat([decipher.update(sealed.ciphertext.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    throw new DecryptionFailed('a ciphertext failed authentication');
  }
}
