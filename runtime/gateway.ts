import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream';
import { readJson, runtimeFiles } from './files.js';
import { RequestProblem, createGuardedServer, decodeComponent, readBody, reportToStderr, requestTarget, sendProblem, type ErrorReport } from './http.js';
import type { Credentials } from '../db/credentials.js';
import type { OutboundConfig } from '../lib/config.js';
import { OutboundRefused, outboundRequest } from '../lib/outbound.js';

interface AppliedApi {
  id: string;
  name: string;
  targetUrl: string;
  credentials?: Credentials;
}

interface Applied {
  configVersion: number;
  applications: Array<{ id: string; name: string; apis: AppliedApi[]; events: unknown[] }>;
}

const send = (res: http.ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const problem = sendProblem;

/** Request bodies are buffered (so a call can be replayed once after an OAuth token expired) up to this size. */
const MAX_BODY = 16 * 2 ** 20;
const UPSTREAM_TIMEOUT_MS = 30_000;
/** A token endpoint's answer is read up to this size. */
const MAX_TOKEN_ANSWER = 64 * 1024;
/** Headers that belong to one hop, or that the gateway sets itself. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

/** Thrown when the OAuth token endpoint does not hand out a token. */
class TokenFetchFailed extends Error {
  override name = 'TokenFetchFailed';
}

/** Reads a JSON answer of at most `limit` bytes; anything else reads as `{}`. */
async function readJsonAnswer(res: http.IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      res.destroy();
      return {};
    }
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * OAuth 2 client-credentials tokens by API and credentials, cached until shortly before they expire.
 * The token endpoint sees the client credentials in HTTP Basic (RFC 6749 §2.3.1); it is called
 * through the outbound guard, and a redirect is not followed.
 */
class TokenCache {
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  /** How many tokens were fetched (for tests and `/applied`). */
  fetched = 0;

  constructor(private readonly outbound: OutboundConfig) {}

  async get(oauth: NonNullable<Credentials['oauth']>, fresh = false): Promise<string> {
    const key = createHash('sha256').update(JSON.stringify(oauth)).digest('hex');
    const cached = this.tokens.get(key);
    if (cached && !fresh && cached.expiresAt > Date.now()) return cached.token;
    const basic = Buffer.from(`${encodeURIComponent(oauth.clientId)}:${encodeURIComponent(oauth.clientSecret)}`).toString('base64');
    const res = await outboundRequest(oauth.tokenUrl, {
      allowPrivate: this.outbound.allowPrivate,
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'grant_type=client_credentials',
      timeoutMs: UPSTREAM_TIMEOUT_MS,
    }).catch((error: Error) => {
      if (error instanceof OutboundRefused) throw new OutboundRefused(`the OAuth tokenUrl: ${error.message}`);
      throw new TokenFetchFailed(`the token endpoint did not answer: ${error.message}`);
    });
    const status = res.statusCode ?? 0;
    const body = await readJsonAnswer(res, MAX_TOKEN_ANSWER).catch(() => ({}) as Record<string, unknown>);
    if (status < 200 || status >= 300 || typeof body.access_token !== 'string') throw new TokenFetchFailed(`the token endpoint answered HTTP ${status} without an access_token`);
    this.fetched++;
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 3_600_000;
    this.tokens.set(key, { token: body.access_token, expiresAt: Date.now() + Math.max(lifetime - 30_000, lifetime / 2) });
    return body.access_token;
  }
}

/**
 * Sends one request upstream through the outbound guard (kept-alive connections, redirects handed
 * back to the caller); resolves with the response, unread, so it can be streamed back.
 */
function upstream(target: URL, method: string, headers: http.OutgoingHttpHeaders, body: Buffer, outbound: OutboundConfig): Promise<http.IncomingMessage> {
  return outboundRequest(target, { allowPrivate: outbound.allowPrivate, method, headers, body, timeoutMs: UPSTREAM_TIMEOUT_MS, keepAlive: true }).catch((error: Error) => {
    throw error instanceof OutboundRefused ? new OutboundRefused(`the API's targetUrl: ${error.message}`) : error;
  });
}

/**
 * `ANY /gateway/<application>/<api>/<path…>`: forwards to the API's targetUrl + path with the
 * credentials the application set for this runtime applied, and streams the answer back.
 */
async function forward(req: http.IncomingMessage, res: http.ServerResponse, applied: Applied | undefined, parts: string[], search: string, tokens: TokenCache, outbound: OutboundConfig) {
  const [appName, apiName, ...rest] = parts.map(decodeComponent);
  const api = applied?.applications.find((a) => a.name === appName)?.apis.find((a) => a.name === apiName);
  if (!api) return problem(res, 404, 'Not Found', `no API "${apiName}" of an application "${appName}" in the applied configuration`);
  const body = await readBody(req, MAX_BODY);
  if (!body) return problem(res, 413, 'Content Too Large', `request bodies are limited to ${MAX_BODY} bytes`);

  const target = new URL(api.targetUrl);
  target.pathname = `${target.pathname.replace(/\/$/, '')}/${rest.map(encodeURIComponent).join('/')}`;
  target.search = search;
  const credentials = api.credentials ?? {};
  for (const [name, value] of Object.entries(credentials.queryParams ?? {})) target.searchParams.set(name, value);
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name)) headers[name] = value;
  Object.assign(headers, credentials.headers);
  if (credentials.basic) headers.authorization = `Basic ${Buffer.from(`${credentials.basic.username}:${credentials.basic.password}`).toString('base64')}`;
  if (credentials.bearer) headers.authorization = `Bearer ${credentials.bearer.token}`;

  const method = req.method ?? 'GET';
  let answer: http.IncomingMessage;
  try {
    if (credentials.oauth) headers.authorization = `Bearer ${await tokens.get(credentials.oauth)}`;
    answer = await upstream(target, method, headers, body, outbound);
    if (answer.statusCode === 401 && credentials.oauth) {
      // The token may have been revoked or expired early: fetch a new one, and try once more.
      answer.resume();
      headers.authorization = `Bearer ${await tokens.get(credentials.oauth, true)}`;
      answer = await upstream(target, method, headers, body, outbound);
    }
  } catch (error) {
    // A target the outbound guard refuses is a refusal, named as such; everything else is the API's failure.
    if (error instanceof OutboundRefused) return problem(res, 403, 'Forbidden', `refused: ${error.message}`);
    return problem(res, 502, 'Bad Gateway', error instanceof TokenFetchFailed ? error.message : `the API did not answer: ${(error as Error).message}`);
  }
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) || name === 'content-length') out[name] = value;
  res.writeHead(answer.statusCode ?? 502, out);
  // An upstream that breaks off mid-answer ends the client's connection too (no half answer that looks whole).
  pipeline(answer, res, () => undefined);
}

export interface GatewayOptions {
  /** The one runtime a local runtime's gateway serves; without it, every runtime under `root` (the runtime host). */
  runtimeId?: string;
  /** The port of an earlier run, kept when it is free. @default 0 (a free one) */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  /** Where errors past the last handler go. @default stderr */
  report?: ErrorReport;
  /** What calls to targetUrls and tokenUrls may reach (MERIDIAN_OUTBOUND_ALLOW_PRIVATE). */
  outbound: OutboundConfig;
}

/**
 * The runtime gateway: `POST /events/<applicationName>` takes events for applications in the applied
 * configuration, `GET /applied` shows what the agent applied (never credentials), and
 * `/gateway/<application>/<api>/…` calls an application's API with the credentials set for this runtime,
 * and `GET /healthz` answers while the process serves.
 * A local runtime serves its own (`runtimeId` given); the runtime host serves all of its runtimes under
 * `/runtimes/<id>/…`. Calls to an API's targetUrl and an OAuth tokenUrl go through the outbound guard
 * (lib/outbound.ts); a refused one answers 403.
 */
export async function startGateway(root: string, options: GatewayOptions): Promise<{ url: string; server: http.Server; tokens: TokenCache }> {
  const { runtimeId, port = 0, host = '127.0.0.1', report = reportToStderr, outbound } = options;
  const tokens = new TokenCache(outbound);
  // Every request is answered inside the last error handler: malformed input is a 4xx, never an exit.
  const server = createGuardedServer((req, res) => {
    const url = requestTarget(req);
    let pathname = url.pathname;
    if (req.method === 'GET' && pathname === '/healthz') return send(res, 200, { status: 'ok' });
    let id = runtimeId;
    if (!id) {
      const match = /^\/runtimes\/([0-9a-f-]{36})(\/.*)$/.exec(pathname);
      if (!match) return problem(res, 404, 'Not Found', 'unknown route');
      [, id, pathname] = match as unknown as [string, string, string];
    }
    const applied = readJson<Applied>(runtimeFiles(root, id!).applied);
    if (req.method === 'GET' && pathname === '/applied') {
      if (!applied) return send(res, 200, { configVersion: null, applications: [] });
      return send(res, 200, {
        configVersion: applied.configVersion,
        applications: applied.applications.map((a) => ({
          id: a.id,
          name: a.name,
          apis: a.apis.map((api) => ({ id: api.id, name: api.name, credentials: api.credentials ? Object.keys(api.credentials).sort() : [] })),
          events: a.events,
        })),
        oauthTokensFetched: tokens.fetched,
      });
    }
    const gateway = /^\/gateway\/([^/]+)\/([^/]+)(?:\/(.*))?$/.exec(pathname);
    if (gateway) {
      const parts = [gateway[1]!, gateway[2]!, ...(gateway[3] ? gateway[3].split('/') : [])];
      return forward(req, res, applied, parts, url.search, tokens, outbound).catch((error: Error) => {
        // A bad path is the request's problem (4xx); anything else on the way upstream is the API's (502).
        if (error instanceof RequestProblem) throw error;
        problem(res, 502, 'Bad Gateway', error.message);
      });
    }
    const event = /^\/events\/([^/]+)$/.exec(pathname);
    if (req.method === 'POST' && event) {
      const name = decodeComponent(event[1]!);
      if (!applied?.applications.some((a) => a.name === name)) return problem(res, 404, 'Not Found', `no application "${name}" in the applied configuration`);
      req.resume();
      return req.on('end', () => send(res, 202, { accepted: true, application: name }));
    }
    return problem(res, 404, 'Not Found', 'unknown route');
  }, report);
  // The port of an earlier run when it is free, so the eventUrl the runtime reported stays true.
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' && port ? server.listen(0, host, resolve) : reject(error)));
    server.listen(port, host, resolve);
  });
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, server, tokens };
}
