import { generateKeyPairSync } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type pg from 'pg';
import { revokedSince } from '../db/certificates.js';
import { issue, normalizeSerial, type Ca } from '../trust/ca.js';
import type { Logger } from '../lib/logger.js';
import { HttpProblem, unauthorized } from './problems.js';
import type { Authenticator } from './route.js';
import forge from 'node-forge';

/** Who called the mTLS listener, taken from the verified client certificate only. */
export interface ClientIdentity {
  tenantId: string;
  kind: 'application' | 'runtime';
  id: string;
  serial: string;
  /** Subject attributes as the certificate carries them. */
  subject: Record<string, string>;
}

declare module 'express-serve-static-core' {
  interface Request {
    client?: ClientIdentity;
  }
}

/** How long a revocation may take to reach this replica at most. */
export const REVOCATION_REFRESH_MS = 500;
/** Re-read window that covers revocations committed late by slow transactions. */
const OVERLAP_MS = 10_000;

/**
 * Revoked serials, refreshed from PostgreSQL every {@link REVOCATION_REFRESH_MS} on every replica. A
 * revocation scheduled for later (a renewal's overlap) is read once it is due.
 */
export class RevocationList {
  private readonly revoked = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private lastRead?: Date;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.refresh().catch((e: Error) => this.logger.warn({ err: e.message }, 'revocation refresh failed')), REVOCATION_REFRESH_MS);
    this.timer.unref();
  }

  static async load(pool: pg.Pool, logger: Logger): Promise<RevocationList> {
    const list = new RevocationList(pool, logger);
    await list.refresh();
    return list;
  }

  async refresh(): Promise<void> {
    const since = this.lastRead && new Date(this.lastRead.getTime() - OVERLAP_MS);
    const { serials, now } = await revokedSince(this.pool, since);
    for (const serial of serials) this.revoked.add(serial);
    this.lastRead = now;
  }

  has(serial: string): boolean {
    return this.revoked.has(serial);
  }

  add(serial: string): void {
    this.revoked.add(serial);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The certificate subject's OU names the kind of its holder. */
const KIND_BY_OU = { applications: 'application', runtimes: 'runtime' } as const;

/**
 * Authenticates by client certificate: chained to the Meridian CA, not revoked, and within its validity
 * on every request (a connection kept alive past `notAfter` is refused and closed).
 */
export function clientAuthenticator(revocations: RevocationList, only?: ClientIdentity['kind']): Authenticator {
  return async (req) => {
    const socket = req.socket as Partial<TLSSocket>;
    if (!socket.encrypted || !socket.getPeerCertificate) throw unauthorized('a client certificate is required: call the mTLS listener');
    const cert = socket.getPeerCertificate();
    if (!cert?.subject) throw unauthorized('a client certificate is required');
    if (!socket.authorized) throw unauthorized(`the client certificate is not accepted (${String(socket.authorizationError)})`);
    // The handshake checked the validity once; a keep-alive connection may outlive the certificate.
    const notAfter = Date.parse(cert.valid_to);
    if (!(notAfter > Date.now())) {
      req.res?.setHeader('connection', 'close');
      throw unauthorized(`the client certificate expired at ${Number.isNaN(notAfter) ? cert.valid_to : new Date(notAfter).toISOString()}`);
    }
    const serial = normalizeSerial(cert.serialNumber);
    if (revocations.has(serial)) throw unauthorized('the client certificate has been revoked');
    const { CN, OU, O } = cert.subject as unknown as Record<string, unknown>;
    const kind = typeof OU === 'string' ? KIND_BY_OU[OU as keyof typeof KIND_BY_OU] : undefined;
    if (typeof CN !== 'string' || typeof O !== 'string' || !kind) throw unauthorized('the client certificate subject is not a Meridian identity');
    if (only && kind !== only) throw new HttpProblem(403, 'Forbidden', `only ${only} certificates may call this endpoint`);
    req.client = { tenantId: O, kind, id: CN, serial, subject: cert.subject as unknown as Record<string, string> };
  };
}

/** A fresh key and a server certificate from the Meridian CA for the mTLS listener. */
export function serverCredentials(ca: Ca, hostnames: string[]): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issued = issue(ca, {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    subject: [{ shortName: 'CN', value: hostnames[0] ?? 'localhost' }, { shortName: 'O', value: 'Meridian' }],
    validityDays: 365,
    usage: 'server',
    hostnames,
  });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: issued.pem + ca.certPem };
}
