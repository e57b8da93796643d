// Which certificate authorities a process signs with and trusts (issue #19, CA rotation). Before the first
// rotation that is the CA of the files alone; once a rotation began, PostgreSQL's certificate_authorities
// say: the ACTIVE CA signs client certificates, every CA not RETIRED is trusted, and the mTLS listener's
// server certificate is signed by the CA every holder already trusted (RETIRING while there is one).
import type pg from 'pg';
import { caKeyBinding, trustedAuthorities, type CaRow } from '../db/authorities.js';
import type { Db } from '../db/tx.js';
import type { Logger } from '../lib/logger.js';
import { fingerprintOf, loadCa, type Ca } from './ca.js';
import { open, type Keyring } from './encryption.js';

/** A CA with the fingerprint (hex SHA-256 of its DER) it is recorded under. */
export type KnownCa = Ca & { fingerprint: string };

/** The CAs of a process at one moment. */
export interface Authorities {
  /** Signs new client certificates. */
  active: KnownCa;
  /** Signs the mTLS listener's server certificate: the CA being replaced while there is one, else the active one. */
  server: KnownCa;
  /** PEM of every trusted CA, the active one first: what holders trust and the mTLS listener accepts. */
  bundle: string;
  /** The same certificates one by one. */
  trusted: string[];
  /** Changes whenever any of the above does. */
  generation: string;
}

const fingerprints = new WeakMap<Ca, string>();
const known = (ca: Ca): KnownCa => {
  let fingerprint = fingerprints.get(ca);
  if (!fingerprint) fingerprints.set(ca, (fingerprint = fingerprintOf(ca.certPem)));
  return { ...ca, fingerprint };
};

/** The authorities when no rotation ever happened: the CA of the files alone. */
export function fileAuthorities(fileCa: Ca): Authorities {
  const ca = known(fileCa);
  return { active: ca, server: ca, bundle: ca.certPem, trusted: [ca.certPem], generation: ca.fingerprint };
}

/** CAs whose keys were opened, by fingerprint: a key never changes under its fingerprint. */
const opened = new Map<string, KnownCa>();

/** The CA of a row: its sealed key opened with the keyring, or the CA of the files when its key stays there. */
function caOf(row: CaRow, fileCa: Ca, keyring: Keyring): KnownCa {
  if (!row.keyCiphertext || !row.keyId) {
    const file = known(fileCa);
    if (file.fingerprint !== row.fingerprint) {
      throw new Error(
        `the CA files hold CA ${file.fingerprint.slice(0, 16)}…, but PostgreSQL records CA ${row.fingerprint.slice(0, 16)}… (${row.state}) with its key in the files: start every process with the same CA files`,
      );
    }
    return file;
  }
  let ca = opened.get(row.fingerprint);
  if (!ca) {
    const keyPem = open(keyring, { ciphertext: row.keyCiphertext, keyId: row.keyId, boundTo: [caKeyBinding(row.fingerprint)] });
    ca = { ...loadCa(row.certificate, keyPem), fingerprint: row.fingerprint };
    opened.set(row.fingerprint, ca);
  }
  return ca;
}

/** The authorities as PostgreSQL records them now (see the file comment). */
export async function readAuthorities(db: Db, fileCa: Ca, keyring: Keyring): Promise<Authorities> {
  const rows = await trustedAuthorities(db);
  const activeRow = rows.find((r) => r.state === 'ACTIVE');
  if (!activeRow) return fileAuthorities(fileCa);
  const active = caOf(activeRow, fileCa, keyring);
  const retiringRow = rows.find((r) => r.state === 'RETIRING');
  const server = retiringRow ? caOf(retiringRow, fileCa, keyring) : active;
  const trusted = rows.map((r) => r.certificate);
  return {
    active,
    server,
    bundle: trusted.join(''),
    trusted,
    generation: [server.fingerprint, ...rows.map((r) => `${r.fingerprint}:${r.state}`)].join(','),
  };
}

/** How often an API process re-reads the authorities: a rotation's phase reaches every replica within it. */
export const AUTHORITY_REFRESH_MS = 1_000;

/**
 * The authorities of an API process, re-read every {@link AUTHORITY_REFRESH_MS}; listeners hear every
 * change (the mTLS listener takes the new trust and server certificate). A failed read keeps the last.
 */
export class AuthorityWatch {
  private authorities: Authorities;
  private readonly listeners: Array<(authorities: Authorities) => void> = [];
  private readonly timer: NodeJS.Timeout;
  private reading?: Promise<void>;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly fileCa: Ca,
    private readonly keyring: Keyring,
    private readonly logger: Logger,
    first: Authorities,
  ) {
    this.authorities = first;
    this.timer = setInterval(() => void this.refresh().catch((e: Error) => this.logger.warn({ err: e.message }, 'certificate authorities not re-read')), AUTHORITY_REFRESH_MS);
    this.timer.unref();
  }

  static async load(pool: pg.Pool, fileCa: Ca, keyring: Keyring, logger: Logger): Promise<AuthorityWatch> {
    return new AuthorityWatch(pool, fileCa, keyring, logger, await readAuthorities(pool, fileCa, keyring));
  }

  current(): Authorities {
    return this.authorities;
  }

  onChange(listener: (authorities: Authorities) => void): void {
    this.listeners.push(listener);
  }

  /** Reads the authorities again (one read at a time: a slow read is not overtaken by a later, older view). */
  refresh(): Promise<void> {
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(): Promise<void> {
    const next = await readAuthorities(this.pool, this.fileCa, this.keyring);
    if (next.generation === this.authorities.generation) return;
    this.authorities = next;
    this.logger.info({ active: next.active.fingerprint.slice(0, 16), trusted: next.trusted.length }, 'certificate authorities changed');
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (error) {
        this.logger.error({ err: (error as Error).message }, 'certificate authorities not taken up by a listener');
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
