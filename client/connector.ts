// The reference client of the Connector: what an application (or runtime agent) does to become
// trusted, and how it then calls the mTLS listener. Used by tests and the CLI; copy from it.
import { X509Certificate, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createCsr, signedBy, type Subject, type SubjectAttribute } from '../trust/ca.js';

export interface Credentials {
  /** PEM private key; it never leaves the client. */
  key: string;
  certificate: string;
  caCertificate: string;
  mtlsBaseUrl: string;
}

export interface SigningRequest {
  csrToken: string;
  csrTokenExpiresAt: string;
  subject: string;
  keyAlgorithm: 'rsa2048';
  certificateUrl: string;
  mtlsBaseUrl: string;
}

/** Thrown when Meridian answers a step with an error; carries the problem+json body. */
export class ConnectorError extends Error {
  override name = 'ConnectorError';
  constructor(
    readonly status: number,
    readonly problem: { detail?: string } | undefined,
    step: string,
  ) {
    super(`${step}: HTTP ${status}${problem?.detail ? `: ${problem.detail}` : ''}`);
  }
}

/** "CN=a, OU=b, …" as announced by the signing request. */
export function parseSubject(text: string): Subject {
  return text.split(', ').map((part) => {
    const at = part.indexOf('=');
    return [part.slice(0, at) as SubjectAttribute, part.slice(at + 1)];
  });
}

/**
 * How long a step retries while Meridian answers 503 (a dependency unavailable) or 429 (too busy; the
 * request was not looked at): nothing was used up either way.
 */
const UNAVAILABLE_BUDGET_MS = 120_000;

/** Answers that mean "the same request later": 429 (Meridian shed it) and 503 (a dependency unavailable). */
export const retryLater = (status: number) => status === 429 || status === 503;

/**
 * Milliseconds to wait before asking again after a {@link retryLater} answer: its `Retry-After` seconds
 * (2 without one, at most 10), plus up to a second at random, so that clients answered in the same
 * instant do not come back in it.
 */
export function retryAfterMs(retryAfter: string | string[] | null | undefined, random = Math.random): number {
  const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  return Math.min(Number.isFinite(seconds) && seconds > 0 ? seconds : 2, 10) * 1000 + Math.floor(random() * 1000);
}

/** One step's request: retried after `Retry-After` while the answer is 429 or 503, then its JSON body or a `ConnectorError`. */
async function json<T>(url: string, init: RequestInit, step: string): Promise<T> {
  const giveUpAt = Date.now() + UNAVAILABLE_BUDGET_MS;
  for (;;) {
    const res = await fetch(url, init);
    const body = (await res.json().catch(() => undefined)) as T | undefined;
    if (res.ok) return body as T;
    const wait = retryAfterMs(res.headers.get('retry-after'));
    if (!retryLater(res.status) || Date.now() + wait > giveUpAt) throw new ConnectorError(res.status, body as { detail?: string }, step);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Step 1: exchange the one-time token for a CSR token and the subject to request. */
export async function requestSigning(connectorUrl: string, token: string): Promise<SigningRequest> {
  return json(connectorUrl, { headers: { 'connector-token': token } }, 'signing request');
}

/** A new RSA-2048 key, generated off the event loop. */
export async function newKey(): Promise<KeyObject> {
  return (await promisify(generateKeyPair)('rsa', { modulusLength: 2048 })).privateKey;
}

/** Step 2: a CSR for the announced subject with a new RSA-2048 key (or `privateKey`), sent with the CSR token. */
export async function requestCertificate(request: SigningRequest, privateKey?: KeyObject): Promise<Credentials> {
  privateKey ??= await newKey();
  // A retry sends the same CSR with the same token: Meridian answers it with the one certificate it issues for them.
  const bundle = await json<{ clientCertificate: string; caCertificate: string }>(
    request.certificateUrl,
    {
      method: 'POST',
      headers: { 'connector-token': request.csrToken, 'content-type': 'application/json' },
      body: JSON.stringify({ csr: createCsr(privateKey, parseSubject(request.subject)) }),
    },
    'certificate',
  );
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificate: bundle.clientCertificate,
    caCertificate: bundle.caCertificate,
    mtlsBaseUrl: request.mtlsBaseUrl,
  };
}

/** The whole pairing: token → CSR token → key and CSR → certificate. */
export async function connect(connectorUrl: string, token: string, privateKey?: KeyObject): Promise<Credentials> {
  return requestCertificate(await requestSigning(connectorUrl, token), privateKey);
}

/** Keeps credentials in a directory: key (0600), certificate, CA certificate and the mTLS URL. */
export function saveCredentials(dir: string, credentials: Credentials): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'client.key'), credentials.key, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'client.crt'), credentials.certificate);
  fs.writeFileSync(path.join(dir, 'ca.crt'), credentials.caCertificate);
  fs.writeFileSync(path.join(dir, 'meridian.json'), JSON.stringify({ mtlsBaseUrl: credentials.mtlsBaseUrl }, null, 2));
}

export function loadCredentials(dir: string): Credentials {
  const read = (file: string) => fs.readFileSync(path.join(dir, file), 'utf8');
  return { key: read('client.key'), certificate: read('client.crt'), caCertificate: read('ca.crt'), ...JSON.parse(read('meridian.json')) };
}

/**
 * What a configuration (`GET /v1/application/configuration`, `GET /v1/runtime/configuration`) asks of the
 * holder of `credentials` during a CA rotation: trust the new bundle (`trust`: the credentials with it, when
 * it differs), and renew when the CA that signs new certificates did not sign this one (`renew`). A bundle
 * without the CA that signed this certificate (an outdated answer) is not adopted.
 */
export function trustChange(credentials: Credentials, configuration: { trustBundle?: string; issuingCa?: string }): { trust?: Credentials; renew: boolean } {
  const { trustBundle, issuingCa } = configuration;
  const adoptable = trustBundle && trustBundle !== credentials.caCertificate && pemCertificates(trustBundle).some((ca) => signedBy(credentials.certificate, ca));
  return {
    ...(adoptable && { trust: { ...credentials, caCertificate: trustBundle } }),
    renew: Boolean(issuingCa) && !signedBy(credentials.certificate, issuingCa!),
  };
}

/** The certificates of a PEM bundle, one by one. */
const pemCertificates = (bundle: string) => bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];

export interface MtlsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of any endpoint; callers know its shape
  body: any;
}

/** An mTLS client: one keep-alive agent, so consecutive calls reuse the connection. */
export class MtlsClient {
  private readonly agent: https.Agent;
  constructor(readonly credentials: Credentials) {
    this.agent = new https.Agent({ key: credentials.key, cert: credentials.certificate, ca: credentials.caCertificate, keepAlive: true });
  }

  /** One call; `signal` aborts it (e.g. a long poll whose activity was cancelled). */
  request(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<MtlsResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL(urlPath, this.credentials.mtlsBaseUrl),
        { method, agent: this.agent, signal, headers: { ...headers, ...(payload && { 'content-type': 'application/json' }) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            let parsed: unknown = undefined;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = text;
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * One call, asked again after `Retry-After` while Meridian answers 429 or 503, for at most two minutes;
   * then the last answer. Only for calls that may be repeated (a renewal with the same CSR is answered
   * with the certificate issued first).
   */
  async requestUntilAnswered(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<MtlsResponse> {
    const giveUpAt = Date.now() + UNAVAILABLE_BUDGET_MS;
    for (;;) {
      const res = await this.request(method, urlPath, body, headers);
      const wait = retryAfterMs(res.headers['retry-after']);
      if (!retryLater(res.status) || Date.now() + wait > giveUpAt) return res;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** A new key and certificate for the same subject; Meridian revokes the current one 10 minutes later. */
  async renew(): Promise<Credentials> {
    const privateKey = await newKey();
    const subject = new X509Certificate(this.credentials.certificate).subject.split('\n').join(', ');
    const csr = createCsr(privateKey, parseSubject(subject));
    const res = await this.requestUntilAnswered('POST', '/connector/v1/certificates/renewals', { csr });
    if (res.status !== 201) throw new ConnectorError(res.status, res.body, 'renewal');
    // The CA certificates come along: during a CA rotation they are the trust bundle (old and new CA).
    return { ...this.credentials, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certificate: res.body.clientCertificate, caCertificate: res.body.caCertificate };
  }

  /**
   * Does what a configuration this client fetched asks during a CA rotation ({@link trustChange}): returns a
   * client that trusts the new bundle and, when the issuing CA did not sign this certificate, holds a renewed
   * one; `this` when nothing changed (the replaced client is closed). Save its `credentials` to keep them.
   */
  async followTrust(configuration: { trustBundle?: string; issuingCa?: string }): Promise<MtlsClient> {
    const change = trustChange(this.credentials, configuration);
    if (!change.trust && !change.renew) return this;
    let next: MtlsClient = change.trust ? new MtlsClient(change.trust) : this;
    if (change.renew) {
      const renewed = new MtlsClient(await next.renew());
      if (next !== this) next.close();
      next = renewed;
    }
    this.close();
    return next;
  }

  /** Revokes the calling certificate. */
  async revoke(): Promise<void> {
    const res = await this.request('POST', '/connector/v1/certificates/revocations');
    if (res.status !== 204) throw new ConnectorError(res.status, res.body, 'revocation');
  }

  close(): void {
    this.agent.destroy();
  }
}
