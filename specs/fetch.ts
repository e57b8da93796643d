import type http from 'node:http';
import { OutboundRefused, outboundRequest } from '../lib/outbound.js';

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
  /** Allow loopback and private ranges (MERIDIAN_OUTBOUND_ALLOW_PRIVATE). Link-local, metadata and reserved addresses stay refused. */
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
 * http/https only, through the outbound guard (lib/outbound.ts), a timeout, a size cap and a bounded
 * number of redirects, each hop checked again.
 */
export async function fetchSpec(url: string, options: FetchOptions): Promise<string> {
  const { timeoutMs = 10_000, maxBytes = 5 * 1024 * 1024, maxRedirects = 3 } = options;
  let current = url;
  for (let hop = 0; ; hop++) {
    const target = parseTarget(current);
    const answer = await get(target, options.allowPrivate, timeoutMs, maxBytes);
    if (answer.redirect) {
      if (hop >= maxRedirects) throw new SpecFetchFailed(`fetchUrl: more than ${maxRedirects} redirects`, false);
      current = new URL(answer.redirect, target).toString();
      continue;
    }
    return answer.body!;
  }
}

function parseTarget(text: string): URL {
  let target: URL;
  try {
    target = new URL(text);
  } catch {
    throw new SpecFetchFailed(`fetchUrl: ${text} is not a URL`, false);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new SpecFetchFailed(`fetchUrl: only http and https URLs are fetched, not ${target.protocol}`, false);
  }
  return target;
}

/** One hop through the outbound guard: its target (a literal IP, or what its name resolves to) is checked, the connection pinned to it. */
async function get(target: URL, allowPrivate: boolean, timeoutMs: number, maxBytes: number): Promise<{ body?: string; redirect?: string }> {
  let res: http.IncomingMessage;
  try {
    res = await outboundRequest(target, { allowPrivate, timeoutMs, headers: { accept: '*/*' } });
  } catch (error) {
    if (error instanceof OutboundRefused) throw new SpecFetchFailed(`fetchUrl: refused: ${error.message}`, false);
    throw new SpecFetchFailed(`fetchUrl: ${(error as Error).message}`, true);
  }
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location) {
    res.resume();
    return { redirect: res.headers.location };
  }
  if (status >= 400) {
    res.resume();
    throw new SpecFetchFailed(`fetchUrl: the server answered HTTP ${status}`, status >= 500 || status === 429);
  }
  const declared = Number(res.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    res.destroy();
    throw new SpecFetchFailed(`fetchUrl: the spec is larger than ${maxBytes} bytes`, false);
  }
  return new Promise((resolve, reject) => {
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
}
