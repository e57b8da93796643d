import { createHash, randomBytes } from 'node:crypto';

/** A new opaque token: 32 random bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The SHA-256 digest under which a token is stored; the token itself never is. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The key under which the certificate a CSR token is exchanged for is recorded: the same token retried
 * finds the same certificate. Derived apart from `hashToken`, so it reveals nothing the token store holds.
 */
export function issuanceKeyOf(token: string): string {
  return 'csr:' + createHash('sha256').update('meridian-issuance\0').update(token, 'utf8').digest('base64url');
}

/**
 * The key under which a renewal's certificate is recorded: one per calling certificate and new key pair,
 * so a retried renewal (its answer lost) answers the certificate issued first.
 */
export function renewalIssuanceKey(callerSerial: string, publicKeySha256: string): string {
  return `renewal:${callerSerial}:${publicKeySha256}`;
}
