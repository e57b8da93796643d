import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

const { asn1 } = forge;
/** node-forge exports these (its own `sign` uses them) but its type definitions omit them. */
const pki = forge.pki as typeof forge.pki & {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
};

/** Thrown when a CSR cannot be accepted; the message tells the client what is wrong. */
export class CsrInvalid extends Error {
  override name = 'CsrInvalid';
}

/** Meridian's certificate authority: its certificate (public) and signing key (private, never logged). */
export interface Ca {
  certPem: string;
  cert: forge.pki.Certificate;
  key: KeyObject;
}

export interface CaFiles {
  /** Directory where a generated CA is kept (`ca.crt`, `ca.key`, mode 0600). */
  dataDir: string;
  certFile?: string;
  keyFile?: string;
}

const CA_SUBJECT = [{ name: 'commonName', value: 'Meridian CA' }, { name: 'organizationName', value: 'Meridian' }];
const CA_YEARS = 10;

/** Loads the CA from the configured files, or from the data directory, generating it there on first use. */
export function loadOrCreateCa(files: CaFiles): Ca {
  if (files.certFile && files.keyFile) return loadCa(fs.readFileSync(files.certFile, 'utf8'), fs.readFileSync(files.keyFile, 'utf8'));
  const certFile = path.join(files.dataDir, 'ca.crt');
  const keyFile = path.join(files.dataDir, 'ca.key');
  if (!fs.existsSync(keyFile)) {
    fs.mkdirSync(files.dataDir, { recursive: true });
    const { certPem, keyPem } = generateCa();
    // Written under temporary names and linked into place: a concurrent first start keeps the winner's CA.
    const suffix = randomBytes(6).toString('hex');
    fs.writeFileSync(`${certFile}.${suffix}`, certPem, { mode: 0o600 });
    fs.writeFileSync(`${keyFile}.${suffix}`, keyPem, { mode: 0o600 });
    try {
      fs.linkSync(`${certFile}.${suffix}`, certFile);
      fs.linkSync(`${keyFile}.${suffix}`, keyFile);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(`${certFile}.${suffix}`, { force: true });
      fs.rmSync(`${keyFile}.${suffix}`, { force: true });
    }
  }
  return loadCa(fs.readFileSync(certFile, 'utf8'), fs.readFileSync(keyFile, 'utf8'));
}

/** A CA from its PEM certificate and private key. */
export function loadCa(certPem: string, keyPem: string): Ca {
  return { certPem, cert: pki.certificateFromPem(certPem), key: createPrivateKey(keyPem) };
}

/** A new self-signed CA: RSA 3072, ten years. */
export function generateCa(): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const cert = pki.createCertificate();
  cert.publicKey = pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + CA_YEARS * 365.25 * 24 * 3600 * 1000);
  cert.setSubject(CA_SUBJECT);
  cert.setIssuer(CA_SUBJECT);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signNative(cert, privateKey);
  return { certPem: pki.certificateToPem(cert), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Lowercase hex without leading zeros: how serials are recorded and compared, whoever printed them. */
export const normalizeSerial = (hex: string) => hex.toLowerCase().replace(/^0+(?=.)/, '');

/** 128 random bits as a positive DER integer in hex. */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  if (bytes[0] === 0) bytes[0] = 0x01;
  return bytes.toString('hex');
}

/** Signs with Node's native RSA (an order of magnitude faster than forge's JavaScript RSA). */
function signNative(cert: forge.pki.Certificate, key: KeyObject): void {
  cert.signatureOid = cert.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption!;
  cert.signature = signDer(pki.getTBSCertificate(cert), key);
}

const signDer = (data: forge.asn1.Asn1, key: KeyObject) =>
  sign('sha256', Buffer.from(asn1.toDer(data).getBytes(), 'binary'), key).toString('binary');

/** A PKCS#10 request for `subject`, built with node-forge and self-signed natively with `privateKey`. */
export function createCsr(privateKey: KeyObject, subject: Subject): string {
  const csr = pki.createCertificationRequest();
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  csr.publicKey = pki.publicKeyFromPem(spki);
  csr.setSubject(subjectFields(subject));
  csr.signatureOid = csr.siginfo.algorithmOid = pki.oids.sha256WithRSAEncryption!;
  csr.signature = signDer(pki.getCertificationRequestInfo(csr), privateKey);
  return pki.certificationRequestToPem(csr);
}

export type Signer = 'native' | 'forge';

export interface IssueRequest {
  publicKey: forge.pki.PublicKey;
  subject: forge.pki.CertificateField[];
  validityDays: number;
  usage: 'client' | 'server';
  /** DNS names and IP addresses of a server certificate. */
  hostnames?: string[];
}

export interface IssuedCertificate {
  pem: string;
  serial: string;
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

/** What a client receives for its CSR: public certificates only, PEM. */
export interface CertificateBundle {
  clientCertificate: string;
  caCertificate: string;
  certificateChain: string;
  serial: string;
  notAfter: string;
}

/**
 * The answer for one issued certificate: it, the trust bundle (every CA Meridian trusts, PEM, one unless a
 * rotation is under way: what the holder verifies the mTLS listener with), and the chain (client first).
 */
export function bundleOf(trustBundle: string, cert: Pick<IssuedCertificate, 'pem' | 'serial' | 'notAfter'>): CertificateBundle {
  return { clientCertificate: cert.pem, caCertificate: trustBundle, certificateChain: cert.pem + trustBundle, serial: cert.serial, notAfter: cert.notAfter.toISOString() };
}

/** Whether a certificate certifies the key a CSR was made with. */
export function certifiesKeyOf(certPem: string, csr: forge.pki.CertificateSigningRequest): boolean {
  return new X509Certificate(certPem).publicKey.equals(createPublicKey(pki.publicKeyToPem(csr.publicKey!)));
}

/** Hex SHA-256 of a CSR's public key (SPKI DER): what a certificate request is authorised for. */
export function publicKeySha256(csr: forge.pki.CertificateSigningRequest): string {
  const der = createPublicKey(pki.publicKeyToPem(csr.publicKey!)).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

let forgeKeyCache: WeakMap<KeyObject, forge.pki.rsa.PrivateKey> | undefined;

/** Builds a certificate with node-forge and signs it with the CA key (natively, or with forge for comparison). */
export function issue(ca: Ca, request: IssueRequest, signer: Signer = 'native'): IssuedCertificate {
  const cert = pki.createCertificate();
  cert.publicKey = request.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + request.validityDays * 24 * 3600 * 1000);
  cert.setSubject(request.subject);
  cert.setIssuer(ca.cert.subject.attributes);
  const extensions: unknown[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: request.usage === 'client', serverAuth: request.usage === 'server' },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (request.hostnames?.length) {
    extensions.push({
      name: 'subjectAltName',
      altNames: request.hostnames.map((h) => (/^[\d.]+$|:/.test(h) ? { type: 7, ip: h } : { type: 2, value: h })),
    });
  }
  cert.setExtensions(extensions as never[]);
  if (signer === 'native') {
    signNative(cert, ca.key);
  } else {
    forgeKeyCache ??= new WeakMap();
    let key = forgeKeyCache.get(ca.key);
    if (!key) {
      key = pki.privateKeyFromPem(ca.key.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey;
      forgeKeyCache.set(ca.key, key);
    }
    cert.sign(key, forge.md.sha256.create());
  }
  const pem = pki.certificateToPem(cert);
  return {
    pem,
    serial: normalizeSerial(cert.serialNumber),
    fingerprint: fingerprintOf(pem),
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
  };
}

/** Short names of the subject attributes Meridian announces and compares. */
export type SubjectAttribute = 'CN' | 'OU' | 'O' | 'L' | 'ST' | 'C';
export type Subject = Array<[SubjectAttribute, string]>;

export const subjectToString = (subject: Subject) => subject.map(([k, v]) => `${k}=${v}`).join(', ');

export const subjectFields = (subject: Subject): forge.pki.CertificateField[] =>
  subject.map(([shortName, value]) => ({ shortName, value }));

const MAX_CSR_CHARS = 16 * 1024;

/** Accepts a CSR as PEM or base64 of PEM; verifies its self-signature and requires RSA ≥ 2048. */
export function parseCsr(input: string): forge.pki.CertificateSigningRequest {
  if (input.length > MAX_CSR_CHARS) throw new CsrInvalid(`csr: must be at most ${MAX_CSR_CHARS} characters`);
  let pem = input.trim();
  if (!pem.startsWith('-----BEGIN')) {
    if (!/^[A-Za-z0-9+/=\s]+$/.test(pem)) throw new CsrInvalid('csr: must be a PEM certificate signing request or base64 of one');
    pem = Buffer.from(pem, 'base64').toString('utf8').trim();
  }
  if (!pem.startsWith('-----BEGIN ')) throw new CsrInvalid('csr: must be a PEM certificate signing request or base64 of one');
  if (!/^-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(pem)) {
    throw new CsrInvalid('csr: must be a PEM "CERTIFICATE REQUEST" (a certificate or key is not a CSR)');
  }
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = pki.certificationRequestFromPem(pem);
  } catch (error) {
    const message = (error as Error).message;
    if (/OID is not RSA/i.test(message)) throw new CsrInvalid('csr: the key must be RSA (rsa2048 or larger)');
    throw new CsrInvalid('csr: could not be parsed as a PKCS#10 certificate signing request');
  }
  const key = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!key || typeof key.n?.bitLength !== 'function') throw new CsrInvalid('csr: the key must be RSA (rsa2048 or larger)');
  if (key.n.bitLength() < 2048) throw new CsrInvalid(`csr: the RSA key has ${key.n.bitLength()} bits; at least 2048 are required`);
  let verified = false;
  try {
    verified = csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) throw new CsrInvalid('csr: its self-signature does not verify');
  return csr;
}

/** Requires the CSR's subject to be exactly `expected`: every attribute, no more, in any order. */
export function assertSubject(csr: forge.pki.CertificateSigningRequest, expected: Subject): void {
  const actual = csr.subject.attributes.map((a) => `${a.shortName ?? a.name ?? a.type}=${String(a.value)}`).sort();
  const wanted = expected.map(([k, v]) => `${k}=${v}`).sort();
  if (actual.length === wanted.length && actual.every((a, i) => a === wanted[i])) return;
  const missing = wanted.filter((w) => !actual.includes(w));
  const extra = actual.filter((a) => !wanted.includes(a));
  throw new CsrInvalid(
    `csr: the subject must be exactly "${subjectToString(expected)}"` +
      (missing.length ? `; missing or different: ${missing.join(', ')}` : '') +
      (extra.length ? `; unexpected: ${extra.join(', ')}` : ''),
  );
}

/** Whether `certificatePem` was signed by the CA `caPem` (by signature: rotated CAs may share a name). */
export function signedBy(certificatePem: string, caPem: string): boolean {
  try {
    return new X509Certificate(certificatePem).verify(new X509Certificate(caPem).publicKey);
  } catch {
    return false;
  }
}

/** The fingerprint under which a PEM certificate is recorded. */
export function fingerprintOf(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/** The subject Meridian announces for, and requires of, an application's or runtime's certificate. */
export function clientSubject(
  kind: 'application' | 'runtime',
  objectId: string,
  tenantId: string,
  extras: { L: string; ST: string; C: string },
): Subject {
  return [
    ['CN', objectId],
    ['OU', kind === 'application' ? 'applications' : 'runtimes'],
    ['O', tenantId],
    ['L', extras.L],
    ['ST', extras.ST],
    ['C', extras.C],
  ];
}
