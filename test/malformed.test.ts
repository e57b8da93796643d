// F6 at a small scale: a few hundred malformed requests against every listener — the public and the
// mTLS API, the runtime host's gateway, a local runtime process's gateway and the demo's sample
// application. No answer may be a 5xx, no connection may hang, every complete request gets an answer,
// every server still answers a valid request afterwards, and the processes are still alive.
// Requests are written as raw bytes on a socket (TLS for the mTLS listener), so nothing in between
// tidies them up; none of them reaches an upstream API (no 502 is expected from a gateway here).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { PROJECT_ROOT, modulePath, nodeArgs } from '../lib/modules.js';
import { startGateway } from '../runtime/gateway.js';
import { readJson, runtimeFiles, type GatewayFile, type LocalRuntimeConfig } from '../runtime/files.js';
import { generateCa, issue, loadCa, type Ca } from '../trust/ca.js';
import { call, createTenant, startTestApi, tempDir, uniqueName, type TestApi } from './helpers.js';

const SAMPLE_APP = modulePath('../demo/sample-app', import.meta.url);
const RUNTIME_MAIN = modulePath('../runtime/main', import.meta.url);
/** No connection may stay open longer than this: the servers close after each answer (`Connection: close`). */
const EXCHANGE_TIMEOUT_MS = 8_000;
const CONCURRENCY = 8;

// ---------------------------------------------------------------------------------------------------
// Raw exchanges

interface Target {
  name: string;
  port: number;
  /** TLS options for the mTLS listener (the client certificate, if any, included). */
  tls?: tls.ConnectionOptions;
}

interface Case {
  label: string;
  bytes: Buffer;
  /** `send` leaves the connection open for the answer; `half-close` ends the sending side after the bytes; `abort` resets the connection. */
  mode?: 'send' | 'half-close' | 'abort';
  /** A complete request gets an answer; bytes that are not HTTP may also just be closed. */
  expect: 'answer' | 'any';
  /** Replaces the target's TLS options (`null`: plain TCP to a TLS port). */
  tls?: tls.ConnectionOptions | null;
}

interface Outcome {
  label: string;
  expect: Case['expect'];
  status?: number;
  timedOut: boolean;
  error?: string;
  head: string;
}

function exchange(target: Target, c: Case): Promise<Outcome> {
  return new Promise((resolve) => {
    const options = c.tls === undefined ? target.tls : (c.tls ?? undefined);
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let timedOut = false;
    const socket: net.Socket = options
      ? tls.connect({ host: '127.0.0.1', port: target.port, servername: 'localhost', rejectUnauthorized: false, ...options }, () => write())
      : net.connect(target.port, '127.0.0.1', () => write());
    const write = () => {
      if (c.mode === 'abort') {
        socket.write(c.bytes);
        // A TCP reset where the socket can send one (a TLS socket's handle cannot).
        setTimeout(() => (options ? socket.destroy() : socket.resetAndDestroy()), 20);
        return;
      }
      if (c.mode === 'half-close') socket.end(c.bytes);
      else socket.write(c.bytes);
    };
    const timer = setTimeout(() => {
      timedOut = c.mode !== 'abort';
      socket.destroy();
    }, EXCHANGE_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      // The final answer: 1xx (100 Continue) are interim.
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
      const status = statuses.find((s) => s >= 200);
      resolve({ label: c.label, expect: c.expect, status, timedOut, error, head: text.slice(0, 200) });
    });
  });
}

async function barrage(target: Target, cases: Case[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) outcomes.push(await exchange(target, cases[next++]!));
    }),
  );
  return outcomes;
}

/** What went wrong: a 5xx, a connection that hung, or a complete request without an answer. */
const failures = (outcomes: Outcome[]) =>
  outcomes
    .filter((o) => o.timedOut || (o.status !== undefined && o.status >= 500) || (o.expect === 'answer' && o.status === undefined))
    .map((o) => `${o.label}: ${o.timedOut ? 'no answer, connection still open' : o.status ? `HTTP ${o.status}` : `closed without an answer (${o.error ?? 'EOF'})`} ${JSON.stringify(o.head.slice(0, 80))}`);

// ---------------------------------------------------------------------------------------------------
// The cases

const bytes = (text: string | Buffer) => (Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'));

/** One request as bytes: `Host` and `Connection: close` unless given, `Content-Length` for a body unless framing is given. */
function request(method: string, target: string, { headers = {}, body, version = 'HTTP/1.1' }: { headers?: Record<string, string>; body?: string | Buffer; version?: string } = {}): Buffer {
  const all: Record<string, string> = { Host: 'localhost', Connection: 'close', ...headers };
  const names = Object.keys(all).map((n) => n.toLowerCase());
  if (body !== undefined && !names.includes('content-length') && !names.includes('transfer-encoding')) all['Content-Length'] = String(bytes(body).length);
  const head = [`${method} ${target} ${version}`, ...Object.entries(all).filter(([, v]) => v !== '').map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  return Buffer.concat([bytes(`${head}\r\n\r\n`), body === undefined ? Buffer.alloc(0) : bytes(body)]);
}

/** Deterministic noise. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >> 16;
  }
  return out;
}

/** Percent-encodings `decodeURIComponent` refuses. */
const BAD_ENCODINGS = ['%ZZ', '%', '%E0%A4%A', '%C0%AF', '%FF', 'a%2', '%uD800', '%%'];
/** Decodable, but odd: NULs, traversal, CRLF, slashes, astral characters. */
const ODD_ENCODINGS = ['%00', '..%2F..%2Fetc%2Fpasswd', '%0D%0ASet-Cookie:x', '%2F%2F', '%F0%9F%98%80'];

/** Invalid or unusual JSON bodies. */
const BODIES: Array<[string, string | Buffer]> = [
  ['truncated object', '{"name": "x"'],
  ['truncated string', '{"name": "x'],
  ['bare word', 'nul'],
  ['trailing comma', '{"name": "x",}'],
  ['not JSON', 'name=x&y=z'],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
  ['byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')])],
  ['lone surrogate', '{"name": "\\ud800"}'],
  ['huge number', '{"name": 1e999999}'],
  ['deep nesting', '['.repeat(50_000)],
  ['proto pollution', '{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}}'],
  ['null', 'null'],
  ['array', '[1, 2, 3]'],
  ['empty', ''],
];
const CONTENT_TYPES = ['application/json', 'text/plain', 'application/xml', 'multipart/form-data', 'application/json; charset=utf-16', 'application/json; charset=klingon', ';;;=', ''];

/** Requests for any HTTP server: `known` is a route it serves. */
function genericCases(known: string): Case[] {
  const answer = (label: string, b: Buffer, mode: Case['mode'] = 'send'): Case => ({ label, bytes: b, mode, expect: 'answer' });
  const any = (label: string, b: Buffer, mode: Case['mode'] = 'half-close'): Case => ({ label, bytes: b, mode, expect: 'any' });
  return [
    // HTTP/1.0 and garbage on a raw socket
    answer('HTTP/1.0 request', bytes(`GET ${known} HTTP/1.0\r\n\r\n`)),
    answer('HTTP/1.0 with a body and no length', bytes(`POST ${known} HTTP/1.0\r\n\r\n{"a":`), 'half-close'),
    answer('HTTP/0.9 request', bytes(`GET ${known}\r\n`), 'half-close'),
    answer('HTTP/9.9', request('GET', known, { version: 'HTTP/9.9' })),
    answer('HTTP/1.2', request('GET', known, { version: 'HTTP/1.2' })),
    answer('no version', bytes(`GET ${known} \r\n\r\n`), 'half-close'),
    answer('HTTP/2 preface', bytes('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'half-close'),
    answer('words', bytes('hello there\r\n\r\n'), 'half-close'),
    any('only line breaks', bytes('\r\n\r\n\r\n\r\n')),
    answer('NUL bytes', Buffer.alloc(64), 'half-close'),
    any('noise', noise(2048, 7)),
    answer('TLS ClientHello on a plain socket', Buffer.from('16030100a5010000a10303', 'hex'), 'half-close'),
    answer('bare LF line ends', bytes(`GET ${known} HTTP/1.1\nHost: localhost\nConnection: close\n\n`)),
    answer('double space', bytes(`GET  ${known}  HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`)),
    answer('pipelined, second one garbage', Buffer.concat([request('GET', known, { headers: { Connection: 'keep-alive' } }), bytes('\x00\x01garbage\r\n\r\n')]), 'half-close'),
    any('empty connection', Buffer.alloc(0)),
    // absurd methods
    answer('unknown method', request('FROBNICATE', known)),
    answer('teapot method', request('BREW', known)),
    answer('lower-case method', request('get', known)),
    answer('NUL in the method', request('G\x00T', known)),
    answer('5000-byte method', request('A'.repeat(5000), known)),
    answer('WebDAV method', request('PROPFIND', known)),
    answer('SSDP method', request('M-SEARCH', known)),
    answer('TRACE', request('TRACE', known)),
    answer('OPTIONS *', request('OPTIONS', '*')),
    any('CONNECT', request('CONNECT', 'localhost:443')),
    // request targets
    answer('absolute URL with a broken host', request('GET', 'http://[::1')),
    answer('absolute URL', request('GET', `http://localhost${known}`)),
    answer('asterisk', request('GET', '*')),
    answer('query only', request('GET', '?a=1')),
    answer('scheme-relative', request('GET', `//evil.example${known}`)),
    answer('non-ASCII target', request('GET', '/\xff\xfe\xe9')),
    answer('20 KB target', request('GET', `/${'a'.repeat(20_000)}`)),
    answer('bad query encoding', request('GET', `${known}?q=%ZZ&%=%&a=%E0%A4%A`)),
    answer('NUL in the query', request('GET', `${known}?q=%00&\x7f`)),
    // headers
    answer('20 KB header (431)', request('GET', known, { headers: { 'X-Big': 'a'.repeat(20_000) } })),
    answer('3000 headers (431)', Buffer.concat([bytes(`GET ${known} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n`), bytes('X-H: 1\r\n'.repeat(3000)), bytes('\r\n')])),
    answer('space in a header name', request('GET', known, { headers: { 'X A': '1' } })),
    answer('control character in a header value', request('GET', known, { headers: { 'X-A': 'a\x01b' } })),
    answer('non-Latin header value', request('GET', known, { headers: { 'X-A': '\xe9\xff', Authorization: 'Bearer \xe9\xe9' } })),
    answer('obsolete line folding', bytes(`GET ${known} HTTP/1.1\r\nHost: localhost\r\nX-A: a\r\n  folded\r\nConnection: close\r\n\r\n`)),
    answer('no Host', request('GET', known, { headers: { Host: '' } })),
    answer('two Hosts', bytes(`GET ${known} HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n`)),
    answer('Expect: nonsense (417)', request('POST', known, { headers: { Expect: 'nonsense' }, body: '{}' })),
    answer('Expect: 100-continue', request('POST', known, { headers: { Expect: '100-continue', 'Content-Type': 'application/json' }, body: '{}' })),
    answer('bad bearer', request('GET', known, { headers: { Authorization: 'Bearer %ZZ\x7f' } })),
    answer('bad basic', request('GET', known, { headers: { Authorization: 'Basic !!!' } })),
    // framing
    answer('two different Content-Lengths', request('POST', known, { headers: { 'Content-Length': '2', 'content-length': '3' }, body: '{}' })),
    answer('Content-Length: abc', request('POST', known, { headers: { 'Content-Length': 'abc' }, body: '{}' })),
    answer('Content-Length: -1', request('POST', known, { headers: { 'Content-Length': '-1' }, body: '{}' })),
    answer('Content-Length: 2^64', request('POST', known, { headers: { 'Content-Length': '18446744073709551616' }, body: '{}' })),
    answer('Transfer-Encoding and Content-Length', request('POST', known, { headers: { 'Content-Length': '5', 'Transfer-Encoding': 'chunked' }, body: '0\r\n\r\n' })),
    answer('Transfer-Encoding: gzip only', request('POST', known, { headers: { 'Transfer-Encoding': 'gzip' }, body: '{}' })),
    answer('invalid chunk size', request('POST', known, { headers: { 'Transfer-Encoding': 'chunked' }, body: 'zz\r\n{}\r\n0\r\n\r\n' }), 'half-close'),
    answer('chunk extension bomb', request('POST', known, { headers: { 'Transfer-Encoding': 'chunked' }, body: `2;${'x'.repeat(40_000)}\r\n{}\r\n0\r\n\r\n` }), 'half-close'),
    // truncated and aborted
    any('body shorter than Content-Length', request('POST', known, { headers: { 'Content-Length': '1000', 'Content-Type': 'application/json' }, body: '{"name":' })),
    any('chunked body cut off', request('POST', known, { headers: { 'Transfer-Encoding': 'chunked', 'Content-Type': 'application/json' }, body: '10\r\n{"na' })),
    any('headers cut off', bytes(`GET ${known} HTTP/1.1\r\nHost: localhost\r\nX-Half: `)),
    any('reset during the headers', bytes(`POST ${known} HTTP/1.1\r\nHost: localhost\r\nContent-Le`), 'abort'),
    any('reset during the body', request('POST', known, { headers: { 'Content-Length': '100000', 'Content-Type': 'application/json' }, body: '{"name": "' }), 'abort'),
  ];
}

/** Malformed paths under each prefix (methods alternate); odd-but-decodable ones only where no upstream is behind. */
function pathCases(prefixes: string[], oddPrefixes: string[], headers: Record<string, string> = {}): Case[] {
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
  const cases: Case[] = [];
  let i = 0;
  for (const prefix of prefixes) {
    for (const segment of BAD_ENCODINGS) {
      const method = methods[i++ % methods.length]!;
      const body = method === 'GET' || method === 'DELETE' ? undefined : '{}';
      cases.push({ label: `${method} ${prefix}${segment}`, bytes: request(method, `${prefix}${segment}`, { headers: body ? { ...headers, 'Content-Type': 'application/json' } : headers, body }), expect: 'answer' });
    }
  }
  for (const prefix of oddPrefixes) {
    for (const segment of ODD_ENCODINGS) cases.push({ label: `GET ${prefix}${segment}`, bytes: request('GET', `${prefix}${segment}`, { headers }), expect: 'answer' });
  }
  return cases;
}

/** Bad bodies and content types for routes that take a body. */
function bodyCases(routes: Array<[string, string]>, headers: Record<string, string> = {}): Case[] {
  const cases: Case[] = [];
  for (const [method, route] of routes) {
    for (const [label, body] of BODIES) {
      cases.push({ label: `${method} ${route}: ${label}`, bytes: request(method, route, { headers: { ...headers, 'Content-Type': 'application/json' }, body }), expect: 'answer' });
    }
    for (const type of CONTENT_TYPES) {
      cases.push({ label: `${method} ${route}: Content-Type ${JSON.stringify(type)}`, bytes: request(method, route, { headers: { ...headers, 'Content-Type': type }, body: '{"name": "x"}' }), expect: 'answer' });
    }
    cases.push({ label: `${method} ${route}: 2 MiB body`, bytes: request(method, route, { headers: { ...headers, 'Content-Type': 'application/json' }, body: `{"name": "${'x'.repeat(2 * 2 ** 20)}"}` }), expect: 'any' });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------------
// The servers

/** A client certificate from `ca` for `subject`, as TLS options. */
function clientCertificate(ca: Ca, subject: Array<[string, string]>): tls.ConnectionOptions {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = issue(ca, {
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    subject: subject.map(([shortName, value]) => ({ shortName, value })),
    validityDays: 1,
    usage: 'client',
  });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: cert.pem };
}

/** A child process and the first line it prints, with its output kept for the failure message. */
function spawnNode(args: string[], env: Record<string, string>): { child: ChildProcess; output: string[] } {
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  return { child, output };
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

async function stopChild(child: ChildProcess | undefined): Promise<number | string | null> {
  if (!child) return null;
  if (!alive(child)) return child.exitCode ?? child.signalCode;
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const result = await exited;
  clearTimeout(timer);
  return result;
}

const until = async <T>(what: string, probe: () => T | undefined, child: ChildProcess, output: string[], timeoutMs = 90_000): Promise<T> => {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 200))) {
    const value = probe();
    if (value !== undefined) return value;
    if (!alive(child)) throw new Error(`${what}: the process exited (${child.exitCode ?? child.signalCode}): ${output.join('')}`);
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s: ${output.join('')}`);
  }
};

/** An applied configuration with one application (events) and one API whose target nobody listens on. */
const applied = (appName: string) =>
  JSON.stringify({
    configVersion: 1,
    applications: [{ id: randomUUID(), name: appName, apis: [{ id: randomUUID(), name: 'orders-api', targetUrl: 'http://127.0.0.1:9/api' }], events: [] }],
  });

const APP = 'orders';
const WEBHOOK_SECRET = 'malformed-test-webhook-secret-0123456789';

let api: TestApi;
let adminToken: string;
let mtlsClient: tls.ConnectionOptions;
let foreignClient: tls.ConnectionOptions;
let appId: string;
let hostGateway: { url: string; server: http.Server };
const hostErrors: unknown[] = [];
const hostRuntimeId = randomUUID();
let local: { child: ChildProcess; output: string[]; url: string } | undefined;
let sample: { child: ChildProcess; output: string[]; url: string } | undefined;

beforeAll(async () => {
  api = await startTestApi({ configHints: false });
  const tenant = await createTenant(api.pool);
  adminToken = tenant.token;
  const created = await call(`${api.url}/v1/applications`, { token: adminToken, body: { name: uniqueName('app') } });
  expect(created.status).toBe(201);
  appId = created.body.id;
  mtlsClient = clientCertificate(api.ca, [['CN', appId], ['OU', 'applications'], ['O', tenant.tenant.id]]);
  const foreign = generateCa();
  foreignClient = clientCertificate(loadCa(foreign.certPem, foreign.keyPem), [['CN', appId], ['OU', 'applications'], ['O', tenant.tenant.id]]);

  // The runtime host's gateway, in this process: a request that throws past it fails this test file.
  const hostRoot = tempDir('host');
  fs.mkdirSync(runtimeFiles(hostRoot, hostRuntimeId).dir, { recursive: true });
  fs.writeFileSync(runtimeFiles(hostRoot, hostRuntimeId).applied, applied(APP));
  hostGateway = await startGateway(hostRoot, { outbound: { allowPrivate: false }, report: (error) => hostErrors.push(error) });

  // A local runtime process (runtime/main.ts: its gateway and its agent worker), as the local provider starts it.
  const runtimesRoot = tempDir('runtimes');
  const runtimeId = randomUUID();
  const files = runtimeFiles(runtimesRoot, runtimeId);
  fs.mkdirSync(files.dir, { recursive: true });
  fs.writeFileSync(files.config, JSON.stringify({ runtimeId, temporal: { address: inject('temporalAddress'), namespace: 'default' }, taskQueue: uniqueName('runtime') } satisfies LocalRuntimeConfig));
  fs.writeFileSync(files.applied, applied(APP));
  const runtime = spawnNode([...nodeArgs(RUNTIME_MAIN), '--dir', files.dir], { LOG_LEVEL: 'warn' });
  const gatewayFile = await until('the local runtime started', () => readJson<GatewayFile>(files.gateway), runtime.child, runtime.output);
  local = { ...runtime, url: gatewayFile.url };

  // The demo's sample application, started as demo/story.ts starts it.
  const app = spawnNode(nodeArgs(SAMPLE_APP), { DEMO_WEBHOOK_SECRET: WEBHOOK_SECRET });
  const url = await until('the sample application started', () => app.output.join('').match(/\{"url":"([^"]+)"\}/)?.[1], app.child, app.output, 60_000);
  sample = { ...app, url };
}, 180_000);

afterAll(async () => {
  await Promise.all([stopChild(local?.child), stopChild(sample?.child)]);
  hostGateway?.server.close();
  await api?.stop();
});

const portOf = (url: string) => Number(new URL(url).port);
const signature = (body: string | Buffer) => `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`;

describe('malformed requests (F6): 0 exits, 0 5xx, every server answers afterwards', () => {
  it('the public API listener', async () => {
    const target = { name: 'public API', port: portOf(api.url) };
    const auth = { Authorization: `Bearer ${adminToken}` };
    const cases = [
      ...genericCases('/v1/applications'),
      ...pathCases(['/v1/applications/', '/v1/runtimes/', '/v1/operations/', '/v1/scenarios/', `/v1/applications/${appId}/labels/`], ['/v1/applications/', '/v1/operations/'], auth),
      ...bodyCases([['POST', '/v1/applications'], ['PATCH', `/v1/applications/${appId}`], ['POST', '/connector/v1/certificates']], auth),
    ];
    const outcomes = await barrage(target, cases);
    expect(failures(outcomes)).toEqual([]);
    expect((await call(`${api.url}/healthz`)).status).toBe(200);
    expect((await call(`${api.url}/v1/applications/${appId}`, { token: adminToken })).status).toBe(200);
  });

  it('the mTLS API listener: without a client certificate, with a foreign one, with a valid one', async () => {
    const target = { name: 'mTLS API', port: portOf(api.mtlsUrl), tls: mtlsClient };
    const cases: Case[] = [
      { label: 'no client certificate', bytes: request('GET', '/v1/application'), expect: 'answer', tls: {} },
      { label: 'no client certificate, bad path', bytes: request('GET', '/v1/application/apis/%ZZ'), expect: 'answer', tls: {} },
      { label: 'no client certificate, bad body', bytes: request('POST', '/v1/application/apis', { headers: { 'Content-Type': 'application/json' }, body: '{"a":' }), expect: 'answer', tls: {} },
      { label: 'foreign client certificate', bytes: request('GET', '/v1/application'), expect: 'answer', tls: foreignClient },
      { label: 'foreign client certificate, bad path', bytes: request('DELETE', '/v1/application/webhooks/%E0%A4%A'), expect: 'answer', tls: foreignClient },
      { label: 'foreign client certificate, garbage', bytes: bytes('hello\r\n\r\n'), mode: 'half-close', expect: 'answer', tls: foreignClient },
      { label: 'plain HTTP to the TLS port', bytes: request('GET', '/v1/application'), mode: 'half-close', expect: 'any', tls: null },
      { label: 'noise to the TLS port', bytes: noise(4096, 11), mode: 'half-close', expect: 'any', tls: null },
      { label: 'truncated ClientHello', bytes: Buffer.from('16030100a5010000a10303', 'hex'), mode: 'half-close', expect: 'any', tls: null },
      { label: 'TLS 1.0 only', bytes: request('GET', '/v1/application'), expect: 'any', tls: { ...mtlsClient, maxVersion: 'TLSv1', minVersion: 'TLSv1' } },
      { label: 'odd SNI', bytes: request('GET', '/v1/application'), expect: 'answer', tls: { ...mtlsClient, servername: 'x'.repeat(200) } },
      ...genericCases('/v1/application'),
      ...pathCases(['/v1/application/apis/', '/v1/application/webhooks/', '/v1/application/events/', '/connector/v1/certificates/'], ['/v1/application/apis/']),
      ...bodyCases([['POST', '/v1/application/apis'], ['POST', '/v1/application/webhooks']]),
    ];
    const outcomes = await barrage(target, cases);
    expect(failures(outcomes)).toEqual([]);
    expect(outcomes.find((o) => o.label === 'no client certificate')?.status).toBe(401);
    expect(outcomes.find((o) => o.label === 'foreign client certificate')?.status).toBe(401);
    // A valid request still works.
    const valid = await exchange(target, { label: 'valid', bytes: request('GET', '/v1/application'), expect: 'answer' });
    expect(valid.status).toBe(200);
  });

  it("the runtime host's gateway", async () => {
    const target = { name: 'runtime host gateway', port: portOf(hostGateway.url) };
    const base = `/runtimes/${hostRuntimeId}`;
    const cases = [
      { label: 'the request of issue #13', bytes: request('POST', `/runtimes/00000000-0000-4000-8000-000000000000/events/%ZZ`), expect: 'answer' as const },
      ...genericCases(`${base}/applied`),
      ...pathCases([`${base}/events/`, `${base}/gateway/`, `${base}/gateway/${APP}/orders-api/`, `${base}/gateway/x%ZZ/`, '/runtimes/', '/'], [`${base}/events/`, `${base}/gateway/nope/`, '/runtimes/']),
      ...bodyCases([['POST', `${base}/events/${APP}`], ['POST', `${base}/gateway/nope/nope/x`]]),
    ];
    const outcomes = await barrage(target, cases);
    expect(failures(outcomes)).toEqual([]);
    expect(outcomes.find((o) => o.label === 'the request of issue #13')?.status).toBe(400);
    expect(hostErrors).toEqual([]);
    expect((await call(`${hostGateway.url}${base}/applied`)).status).toBe(200);
    expect((await call(`${hostGateway.url}${base}/events/${APP}`, { body: { id: 1 } })).status).toBe(202);
    expect((await call(`${hostGateway.url}/healthz`)).body).toEqual({ status: 'ok' });
  });

  it("a local runtime process's gateway", async () => {
    const target = { name: 'local runtime gateway', port: portOf(local!.url) };
    const cases = [
      { label: 'bad event name', bytes: request('POST', '/events/%ZZ'), expect: 'answer' as const },
      ...genericCases('/applied'),
      ...pathCases(['/events/', '/gateway/', `/gateway/${APP}/orders-api/`, '/'], ['/events/', '/gateway/nope/']),
      ...bodyCases([['POST', `/events/${APP}`], ['PUT', '/gateway/nope/nope']]),
    ];
    const outcomes = await barrage(target, cases);
    expect(failures(outcomes)).toEqual([]);
    expect(outcomes.find((o) => o.label === 'bad event name')?.status).toBe(400);
    expect(alive(local!.child), local!.output.join('')).toBe(true);
    expect((await call(`${local!.url}/applied`)).status).toBe(200);
    expect((await call(`${local!.url}/events/${APP}`, { body: { id: 1 } })).status).toBe(202);
    expect((await call(`${local!.url}/healthz`)).status).toBe(200);
    // It stops cleanly on SIGTERM (its worker shut down), and only then.
    const code = await stopChild(local!.child);
    expect(code, local!.output.join('')).toBe(0);
  });

  it('the sample application', async () => {
    const target = { name: 'sample application', port: portOf(sample!.url) };
    const signed = (label: string, body: string | Buffer): Case => ({
      label: `signed webhook: ${label}`,
      bytes: request('POST', '/webhooks', { headers: { 'Content-Type': 'application/json', 'Meridian-Signature': signature(body) }, body }),
      expect: 'answer',
    });
    const cases: Case[] = [
      ...genericCases('/_demo/log'),
      ...pathCases(['/webhooks/', '/api/', '/_demo/', '/'], ['/api/', '/']),
      ...bodyCases([['POST', '/webhooks'], ['PUT', '/_demo/credentials'], ['POST', '/api/orders']]),
      ...BODIES.map(([label, body]) => signed(label, body)),
      signed('not an object', '"text"'),
      { label: 'signature of non-ASCII bytes', bytes: request('POST', '/webhooks', { headers: { 'Meridian-Signature': `sha256=${'\xe9'.repeat(64)}` }, body: '{}' }), expect: 'answer' },
    ];
    const outcomes = await barrage(target, cases);
    expect(failures(outcomes)).toEqual([]);
    expect(outcomes.find((o) => o.label === 'signed webhook: truncated object')?.status).toBe(400);
    expect(alive(sample!.child), sample!.output.join('')).toBe(true);
    expect((await call(`${sample!.url}/_demo/log`)).status).toBe(200);
    const webhook = JSON.stringify({ type: 'configuration.changed', runtime: { id: 'r', eventUrl: null } });
    expect((await call(`${sample!.url}/webhooks`, { rawBody: webhook, headers: { 'meridian-signature': signature(webhook) } })).status).toBe(200);
  });
});
