// F6's requests: malformed at every layer (bytes, HTTP framing, headers, paths, encodings, bodies,
// credentials), sent as raw bytes so nothing on the client side tidies them up, over plain TCP or TLS.
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import forge from 'node-forge';
import { clientSubject, generateCa, issue, loadCa, subjectFields } from '../trust/ca.js';

export interface Listener {
  name: string;
  port: number;
  /** TLS, optionally with a client certificate. */
  tls?: { key?: string; cert?: string };
  /** Routes this listener serves, used as the base of each malformed request. */
  routes: string[];
  /** Headers that get a request past authentication to the parsers behind it. */
  auth?: Record<string, string>;
}

export type Result = { status: number } | { closed: true } | { error: string };

interface Malformed {
  label: string;
  /** The listener may close the connection without an HTTP answer (there is no HTTP to answer). */
  mayClose?: boolean;
  build(route: string, listener: Listener): Buffer;
}

export const ZERO = '00000000-0000-4000-8000-000000000000';

function request(method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Buffer {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (payload && !Object.keys(headers).some((h) => /^(content-length|transfer-encoding)$/i.test(h))) lines.push(`Content-Length: ${payload.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload ?? Buffer.alloc(0)]);
}

const json = { 'Content-Type': 'application/json' };
const post = (body: string | Buffer, headers: Record<string, string> = json) => (route: string, l: Listener) => request('POST', route, { ...l.auth, ...headers }, body);
const get = (path: (route: string) => string, headers: Record<string, string> = {}) => (route: string, l: Listener) => request('GET', path(route), { ...l.auth, ...headers });
const raw = (bytes: string | Buffer) => () => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1'));

/** Deterministic noise: the same bytes every run. */
function noise(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) bytes[i] = (x = (x * 1103515245 + 12345) & 0x7fffffff) >> 16;
  return bytes;
}

export const MALFORMED: Malformed[] = [
  // Paths and percent-encoding
  { label: 'bad percent-encoding in the path (POST)', build: (r, l) => request('POST', `${r.replace(/[^/]*$/, '')}%ZZ`, { ...l.auth, ...json }, '{}') },
  { label: 'bad percent-encoding in the path (GET)', build: get((r) => `${r.replace(/[^/]*$/, '')}%ZZ`) },
  { label: 'truncated UTF-8 escape in the path', build: get((r) => `${r}/%E0%A4%A`) },
  { label: 'lone % at the end of the path', build: (r, l) => request('POST', `${r}%`, { ...l.auth, ...json }, '{}') },
  { label: 'encoded NUL in the path', build: get((r) => `${r}/%00`) },
  { label: 'encoded dot segments', build: get((r) => `${r}/..%2f..%2f..%2fetc%2fpasswd`) },
  { label: '8 KiB path segment', build: get((r) => `${r}/${'a'.repeat(8192)}`) },
  { label: 'bad percent-encoding in the query', build: get((r) => `${r}?label=%ZZ&limit=%&cursor=%E0`) },
  { label: '2,000 repeated query parameters', build: get((r) => `${r}?${Array.from({ length: 2000 }, (_, i) => `label=k${i}`).join('&')}`) },
  { label: 'absolute-form request target', build: (_r, l) => request('GET', 'http://169.254.169.254/latest/meta-data', { ...l.auth }) },
  { label: 'asterisk request target', build: (_r, l) => request('OPTIONS', '*', { ...l.auth }) },
  // Bodies
  { label: 'invalid JSON', build: post('{"name":') },
  { label: 'JSON with trailing garbage', build: post('{"name":"x"}}}') },
  { label: 'JSON of the wrong shape', build: post('[1,"two",{"three":null}]') },
  { label: 'JSON null', build: post('null') },
  { label: 'JSON operator injection', build: post('{"name":{"$gt":""},"__proto__":{"admin":true}}') },
  { label: 'JSON nested 5,000 deep', build: post(`${'['.repeat(5000)}${']'.repeat(5000)}`) },
  { label: 'JSON string with NUL and lone surrogate', build: post('{"name":"a\\u0000b\\ud800"}') },
  { label: 'invalid UTF-8 in a JSON body', build: post(Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])) },
  { label: 'body of 2 MiB', build: post(`{"name":"${'a'.repeat(2 * 2 ** 20)}"}`) },
  { label: 'text/plain body', build: post('name=x', { 'Content-Type': 'text/plain' }) },
  { label: 'XML body', build: post('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', { 'Content-Type': 'application/xml' }) },
  { label: 'multipart body with a broken boundary', build: post('--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb', { 'Content-Type': 'multipart/form-data; boundary=' }) },
  { label: 'form body with bad percent-encoding', build: post('a=%ZZ&b=%', { 'Content-Type': 'application/x-www-form-urlencoded' }) },
  { label: 'JSON in an unknown charset', build: post('{}', { 'Content-Type': 'application/json; charset=utf-7' }) },
  { label: 'JSON in a bogus charset', build: post('{}', { 'Content-Type': 'application/json; charset=../../x' }) },
  { label: 'gzip content-encoding, not gzip', build: post('{"name":"x"}', { ...json, 'Content-Encoding': 'gzip' }) },
  { label: 'unknown content-encoding', build: post('{"name":"x"}', { ...json, 'Content-Encoding': 'x-bogus' }) },
  { label: 'content type without a subtype', build: post('{}', { 'Content-Type': 'application' }) },
  // Headers
  { label: '20 KiB header', build: get((r) => r, { 'X-Big': 'a'.repeat(20_000) }) },
  { label: '1,500 headers', build: get((r) => r, Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`X-H${i}`, 'v']))) },
  { label: 'non-ASCII bytes in header values', build: get((r) => r, { 'X-Request-Id': '\xff\xfe\x00x', 'Connector-Token': '\xc3\x28' }) },
  { label: 'invalid header name', build: get((r) => r, { 'Bad Header': 'x' }) },
  { label: 'empty bearer token', build: (r) => request('GET', r, { Authorization: 'Bearer' }) },
  { label: 'malformed bearer token', build: (r) => request('GET', r, { Authorization: `Bearer ${'%'.repeat(300)}` }) },
  { label: 'garbage Basic credentials', build: (r) => request('POST', r, { Authorization: 'Basic !!!', ...json }, '{}') },
  { label: 'connector token of 10 KiB', build: (r) => request('GET', r, { 'Connector-Token': 'x'.repeat(10_240) }) },
  { label: 'long request id', build: get((r) => r, { 'X-Request-Id': 'é'.repeat(500) }) },
  { label: 'unbalanced If-None-Match', build: get((r) => r, { 'If-None-Match': '"abc' }) },
  { label: 'unknown Expect', build: post('{}', { ...json, Expect: 'bogus' }) },
  { label: 'X-Forwarded-Client-Cert forgery', build: get((r) => r, { 'X-Forwarded-Client-Cert': `Subject="CN=${ZERO},OU=applications"` }) },
  // Framing
  { label: 'Content-Length and Transfer-Encoding together', build: post('{}', { ...json, 'Content-Length': '2', 'Transfer-Encoding': 'chunked' }) },
  { label: 'invalid chunk size', build: post('zz\r\nabc\r\n0\r\n\r\n', { ...json, 'Transfer-Encoding': 'chunked' }) },
  { label: 'negative Content-Length', build: post('{}', { ...json, 'Content-Length': '-1' }) },
  { label: 'Content-Length shorter than the body', build: post('{"name":"x"}', { ...json, 'Content-Length': '3' }) },
  { label: 'invalid method', build: raw('G@T / HTTP/1.1\r\nHost: x\r\n\r\n') },
  { label: 'unknown method', build: (r) => request('BREW', r, {}) },
  { label: 'HTTP/9.9', build: raw('GET / HTTP/9.9\r\nHost: x\r\n\r\n') },
  { label: 'HTTP/1.0 without Host', build: (r) => Buffer.from(`GET ${r} HTTP/1.0\r\n\r\n`, 'latin1') },
  { label: 'HTTP/2 preface on HTTP/1.1', build: raw('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') },
  { label: 'random bytes', build: raw(noise(512, 7)) },
  { label: 'CONNECT tunnel request', mayClose: true, build: raw('CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n') },
  { label: 'websocket upgrade', build: get((r) => r, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'x', 'Sec-WebSocket-Version': '13' }) },
];

/** Plain HTTP to a TLS listener: the handshake fails, there is no HTTP to answer. */
export const PLAIN_TO_TLS: Malformed = { label: 'plain HTTP to the TLS port', mayClose: true, build: (r) => request('GET', r, {}) };

/** A client certificate with a perfectly Meridian-looking subject, issued by a CA Meridian never heard of. */
export function foreignClientCertificate(applicationId: string, tenantId: string): { key: string; cert: string } {
  const ca = generateCa();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const issued = issue(loadCa(ca.certPem, ca.keyPem), {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    subject: subjectFields(clientSubject('application', applicationId, tenantId, { L: 'Waldorf', ST: 'Baden-Wuerttemberg', C: 'DE' })),
    validityDays: 1,
    usage: 'client',
  });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: issued.pem };
}

const ANSWER_TIMEOUT_MS = 15_000;

/**
 * Sends one malformed request and reads the status line of the answer, if any. The socket stays open
 * for writing: a client that half-closes is one whose request Node aborts, answered or not.
 */
export function send(listener: Listener, bytes: Buffer, plainToTls = false): Promise<Result> {
  return new Promise((resolve) => {
    let received = '';
    let settled = false;
    const finish = (result: Result) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(result);
    };
    const options = { host: '127.0.0.1', port: listener.port };
    const socket =
      listener.tls && !plainToTls
        ? tls.connect({ ...options, ...listener.tls, rejectUnauthorized: false }, () => socket.write(bytes))
        : net.connect(options, () => socket.write(bytes));
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => finish({ error: `no answer within ${ANSWER_TIMEOUT_MS / 1000} s` }));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      if (status) finish({ status: Number(status[1]) });
      else if (received.length > 64) finish({ error: `not HTTP: ${JSON.stringify(received.slice(0, 40))}` });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => finish(received ? { error: 'reset' } : error.code === 'ECONNREFUSED' ? { error: 'ECONNREFUSED' } : { closed: true }));
    socket.on('close', () => finish({ closed: true }));
  });
}
