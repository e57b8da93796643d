import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { guardedLookup, refusedAddress } from '../lib/outbound.js';

/** Thrown when a spec cannot be fetched; `retryable` for network errors, timeouts and 5xx. */
export class SpecFetchFailed extends Error {
  override name = 'SpecFetchFailed';
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface FetchOptions {
  /** Allow loopback and private ranges (MERIDIAN_SPEC_FETCH_ALLOW_PRIVATE). Link-local and metadata stay refused. */
  allowPrivate: boolean;
  /** @default 10000 */
  timeoutMs?: number;
  /** @default 5 MiB */
  maxBytes?: number;
  /** @default 3 */
  maxRedirects?: number;
}

/**
 * GETs a spec by URL with the limits of a management plane that fetches on behalf of its users:
 * http/https only, no link-local or metadata addresses (nor private ones unless allowed), a timeout,
 * a size cap and a bounded number of redirects, each re-checked.
 */
export async function fetchSpec(url: string, options: FetchOptions): Promise<string> {
  const { timeoutMs = 10_000, maxBytes = 5 * 1024 * 1024, maxRedirects = 3 } = options;
  let current = url;
  for (let hop = 0; ; hop++) {
    const target = parseTarget(current, options.allowPrivate);
    const answer = await get(target, options.allowPrivate, timeoutMs, maxBytes);
    if (answer.redirect) {
      if (hop >= maxRedirects) throw new SpecFetchFailed(`fetchUrl: more than ${maxRedirects} redirects`, false);
      current = new URL(answer.redirect, target).toString();
      continue;
    }
    return answer.body!;
  }
}

function parseTarget(text: string, allowPrivate: boolean): URL {
  let target: URL;
  try {
    target = new URL(text);
  } catch {
    throw new SpecFetchFailed(`fetchUrl: ${text} is not a URL`, false);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new SpecFetchFailed(`fetchUrl: only http and https URLs are fetched, not ${target.protocol}`, false);
  }
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (net.isIP(host)) {
    const refused = refusedAddress(host, allowPrivate);
    if (refused) throw new SpecFetchFailed(`fetchUrl: refused: ${refused}`, false);
  }
  return target;
}

function get(target: URL, allowPrivate: boolean, timeoutMs: number, maxBytes: number): Promise<{ body?: string; redirect?: string }> {
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(target, { lookup: guardedLookup(allowPrivate, (message) => new SpecFetchFailed(`fetchUrl: refused: ${message}`, false)) as never, timeout: timeoutMs, headers: { accept: '*/*' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        return resolve({ redirect: res.headers.location });
      }
      if (status >= 400) {
        res.resume();
        return reject(new SpecFetchFailed(`fetchUrl: the server answered HTTP ${status}`, status >= 500 || status === 429));
      }
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > maxBytes) {
        res.destroy();
        return reject(new SpecFetchFailed(`fetchUrl: the spec is larger than ${maxBytes} bytes`, false));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          res.destroy();
          reject(new SpecFetchFailed(`fetchUrl: the spec is larger than ${maxBytes} bytes`, false));
        } else chunks.push(chunk);
      });
      res.on('end', () => resolve({ body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (error) => reject(new SpecFetchFailed(`fetchUrl: ${error.message}`, true)));
    });
    request.on('timeout', () => request.destroy(new SpecFetchFailed(`fetchUrl: no answer within ${timeoutMs} ms`, true)));
    request.on('error', (error) => reject(error instanceof SpecFetchFailed ? error : new SpecFetchFailed(`fetchUrl: ${error.message}`, true)));
  });
}
