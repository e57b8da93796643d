// One-shot of docker-compose.yml (service `temporal-certs`): the certificates for mTLS between
// Temporal's frontend and its clients, created once into a folder (a named volume in compose).
//
//   node dist/scripts/temporal-certs.js --dir /temporal-certs --ca-dir /temporal-ca [--owner 1000:1000]
//
// --dir gets ca.crt (the Temporal CA, separate from Meridian's client CA), server.crt/.key (the
// frontend and internode certificate, SAN temporal, localhost, 127.0.0.1), meridian.crt/.key (api,
// worker, runtime-host) and admin.crt/.key (Temporal UI, admin tools, CLI). --ca-dir gets ca.key,
// which no other service mounts. A second run keeps every file; it reissues only a pair that is
// missing, no longer issued by ca.crt, or expires within RENEW_WITHIN_DAYS.
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import forge from 'node-forge';

const { pki, asn1 } = forge;
/** node-forge exports this (its own `sign` uses it) but its type definitions omit it. */
const getTBSCertificate = (pki as typeof pki & { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate;

export const CA_YEARS = 10;
export const LEAF_DAYS = 730;
export const RENEW_WITHIN_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;

/** The certificates the compose file refers to, by file name stem. */
export const TEMPORAL_LEAVES = {
  server: { commonName: 'temporal', serverAuth: true, hostnames: ['temporal', 'localhost', '127.0.0.1'] },
  meridian: { commonName: 'meridian', serverAuth: false, hostnames: [] },
  admin: { commonName: 'temporal-admin', serverAuth: false, hostnames: [] },
} as const;
export type TemporalLeaf = keyof typeof TEMPORAL_LEAVES;

/** Thrown when a certificate has to be issued but the CA key is not there. */
export class TemporalCaKeyMissing extends Error {}

export interface TemporalCertsOptions {
  /** Folder of ca.crt and the leaf pairs; mounted read-only by every service that talks to Temporal. */
  dir: string;
  /** Folder of ca.key; mounted by this one-shot only. */
  caDir: string;
  /** Owner (`uid:gid`) of ca.crt and the leaf pairs when run as root; ca.key stays root's. */
  owner?: { uid: number; gid: number };
  /** @default new Date() */
  now?: Date;
}

export interface TemporalCertsResult {
  kept: string[];
  issued: string[];
}

/** Creates what is missing in `dir` and `caDir`, keeps everything else (see the file comment). */
export function ensureTemporalCerts({ dir, caDir, owner, now = new Date() }: TemporalCertsOptions): TemporalCertsResult {
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync(caDir, { recursive: true, mode: 0o700 });
  const result: TemporalCertsResult = { kept: [], issued: [] };
  const caCertFile = path.join(dir, 'ca.crt');
  const caKeyFile = path.join(caDir, 'ca.key');

  if (!fs.existsSync(caCertFile)) {
    const ca = generateCa(now);
    writeAtomically(caKeyFile, ca.keyPem, 0o600);
    writeAtomically(caCertFile, ca.certPem, 0o644, owner);
    result.issued.push('ca.crt', 'ca.key');
  } else {
    result.kept.push('ca.crt');
    if (fs.existsSync(caKeyFile)) result.kept.push('ca.key');
  }
  const caCertPem = fs.readFileSync(caCertFile, 'utf8');
  const caCert = new X509Certificate(caCertPem);
  let caKey: KeyObject | undefined;

  for (const [name, leaf] of Object.entries(TEMPORAL_LEAVES) as Array<[TemporalLeaf, (typeof TEMPORAL_LEAVES)[TemporalLeaf]]>) {
    const certFile = path.join(dir, `${name}.crt`);
    const keyFile = path.join(dir, `${name}.key`);
    if (isCurrent(certFile, keyFile, caCert, now)) {
      result.kept.push(`${name}.crt`, `${name}.key`);
      continue;
    }
    if (!fs.existsSync(caKeyFile)) {
      throw new TemporalCaKeyMissing(`${caKeyFile}: missing, so ${name}.crt cannot be issued; remove ${caCertFile} to start over with a new CA`);
    }
    caKey ??= createPrivateKey(fs.readFileSync(caKeyFile));
    const issued = issueLeaf(caCertPem, caKey, leaf, now);
    writeAtomically(keyFile, issued.keyPem, 0o600, owner);
    writeAtomically(certFile, issued.certPem, 0o644, owner);
    result.issued.push(`${name}.crt`, `${name}.key`);
  }
  return result;
}

/** Whether a pair is there, issued by `caCert`, and valid beyond the renewal window. */
function isCurrent(certFile: string, keyFile: string, caCert: X509Certificate, now: Date): boolean {
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) return false;
  try {
    const cert = new X509Certificate(fs.readFileSync(certFile));
    return cert.verify(caCert.publicKey) && new Date(cert.validTo).getTime() - now.getTime() > RENEW_WITHIN_DAYS * DAY_MS;
  } catch {
    return false;
  }
}

function generateCa(now: Date): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const subject = [
    { shortName: 'CN', value: 'Meridian Temporal CA' },
    { shortName: 'O', value: 'Meridian' },
  ];
  const cert = pki.createCertificate();
  cert.publicKey = pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + CA_YEARS * 365.25 * DAY_MS);
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signNative(cert, privateKey);
  return { certPem: pki.certificateToPem(cert), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function issueLeaf(
  caCertPem: string,
  caKey: KeyObject,
  leaf: (typeof TEMPORAL_LEAVES)[TemporalLeaf],
  now: Date,
): { certPem: string; keyPem: string } {
  const ca = pki.certificateFromPem(caCertPem);
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = pki.createCertificate();
  cert.publicKey = pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + LEAF_DAYS * DAY_MS);
  cert.setSubject([
    { shortName: 'CN', value: leaf.commonName },
    { shortName: 'O', value: 'Meridian' },
  ]);
  cert.setIssuer(ca.subject.attributes);
  const extensions: unknown[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    // The server certificate is also the client certificate of Temporal's own internode and
    // system-worker connections, so it carries clientAuth too.
    { name: 'extKeyUsage', serverAuth: leaf.serverAuth, clientAuth: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (leaf.hostnames.length > 0) {
    extensions.push({
      name: 'subjectAltName',
      altNames: leaf.hostnames.map((h) => (/^[\d.]+$/.test(h) ? { type: 7, ip: h } : { type: 2, value: h })),
    });
  }
  cert.setExtensions(extensions as never[]);
  signNative(cert, caKey);
  return { certPem: pki.certificateToPem(cert), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** 128 random bits as a positive DER integer in hex. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}

/** Signs with Node's native RSA (forge's JavaScript RSA is an order of magnitude slower). */
function signNative(cert: forge.pki.Certificate, key: KeyObject): void {
  cert.signatureOid = cert.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption!;
  const tbs = Buffer.from(asn1.toDer(getTBSCertificate(cert)).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, key).toString('binary');
}

/** Writes through a temporary file and a rename, so a crash never leaves half a PEM file. */
function writeAtomically(file: string, content: string, mode: number, owner?: TemporalCertsOptions['owner']): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode);
  if (owner && process.getuid?.() === 0) fs.chownSync(tmp, owner.uid, owner.gid);
  fs.renameSync(tmp, file);
}

function parseOwner(value: string | undefined): TemporalCertsOptions['owner'] {
  if (value === undefined) return undefined;
  const match = /^(\d+):(\d+)$/.exec(value);
  if (!match) throw new Error(`--owner: must be uid:gid, got ${value}`);
  return { uid: Number(match[1]), gid: Number(match[2]) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: 'string' }, 'ca-dir': { type: 'string' }, owner: { type: 'string' } },
    strict: true,
  });
  if (!values.dir || !values['ca-dir']) throw new Error('usage: temporal-certs --dir <folder> --ca-dir <folder> [--owner uid:gid]');
  const { kept, issued } = ensureTemporalCerts({ dir: values.dir, caDir: values['ca-dir'], owner: parseOwner(values.owner) });
  console.log(`temporal-certs: issued [${issued.join(', ')}], kept [${kept.join(', ')}]`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`temporal-certs: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
