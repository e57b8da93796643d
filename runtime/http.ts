// The last error handler of the runtime side's HTTP servers (runtime gateways, the demo's sample
// application): whatever a request holds, it gets an answer (4xx for what is wrong with it) or its
// connection is closed, and no exception reaches the event loop.
import http from 'node:http';
import type { Duplex } from 'node:stream';

/** A problem with the request itself: answered with its 4xx status, not logged as a failure. */
export class RequestProblem extends Error {
  override name = 'RequestProblem';
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
  ) {
    super(detail);
  }
}

const body = (status: number, title: string, detail: string) => JSON.stringify({ type: 'about:blank', title, status, detail });

/** Answers a problem+json; when an answer has already begun, ends the connection instead. */
export function sendProblem(res: http.ServerResponse, status: number, title: string, detail: string): void {
  if (res.headersSent || res.writableEnded || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/problem+json' }).end(body(status, title, detail));
}

/** `decodeURIComponent` that answers 400 for malformed percent-encoding instead of throwing a URIError. */
export function decodeComponent(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new RequestProblem(400, 'Bad Request', 'the path is not valid percent-encoding');
  }
}

/** The request target's path and query; 400 when it is not a URL path. */
export function requestTarget(req: http.IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    throw new RequestProblem(400, 'Bad Request', 'the request target is not a valid URL path');
  }
}

/** What the server reports about failures that are not the request's fault (a bug, a dead socket). */
export type ErrorReport = (error: unknown, context: { what: string; method?: string; url?: string }) => void;

/** The default report: one JSON line on stderr, like the rest of Meridian's logs. */
export const reportToStderr: ErrorReport = (error, context) => {
  const err = error instanceof Error ? { type: error.name, message: error.message, stack: error.stack } : { message: String(error) };
  process.stderr.write(`${JSON.stringify({ level: 50, time: Date.now(), msg: `HTTP server: ${context.what}`, ...context, err })}\n`);
};

/** Answers a request's failure: its 4xx for a {@link RequestProblem}, 500 (and a report) for anything else. */
export function answerFailure(req: http.IncomingMessage, res: http.ServerResponse, error: unknown, report: ErrorReport): void {
  try {
    if (error instanceof RequestProblem) return sendProblem(res, error.status, error.title, error.message);
    report(error, { what: 'request failed', method: req.method, url: req.url });
    sendProblem(res, 500, 'Internal Server Error', 'the request could not be handled');
  } catch {
    res.destroy();
  }
}

const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Content Too Large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout'],
};

/**
 * A connection whose bytes are not HTTP (bad method, bad header, truncated chunk, oversized headers):
 * a problem+json with the matching 4xx when nothing was answered on it yet, then the connection closes.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  try {
    const writable = socket.writable && !(socket as { bytesWritten?: number }).bytesWritten;
    if (!writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const [status, title] = CLIENT_ERRORS[error.code ?? ''] ?? [400, 'Bad Request'];
    const text = body(status, title, 'the request is not valid HTTP/1.1');
    socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  } catch {
    socket.destroy();
  }
}

/**
 * An HTTP server whose handler runs inside a last error handler: a synchronous throw or a rejected
 * promise becomes an answer (see {@link answerFailure}), malformed HTTP gets a 4xx from
 * {@link answerClientError}, and server-level errors after listening are reported, never thrown.
 */
export function createGuardedServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => unknown, report: ErrorReport = reportToStderr): http.Server {
  const server = http.createServer((req, res) => {
    try {
      const result = handler(req, res);
      if (result instanceof Promise) result.catch((error: unknown) => answerFailure(req, res, error, report));
    } catch (error) {
      answerFailure(req, res, error, report);
    }
  });
  server.on('clientError', answerClientError);
  server.on('listening', () => server.on('error', (error) => report(error, { what: 'server error' })));
  return server;
}

/**
 * The whole request body, or undefined once it grows past `maxBytes`: the caller answers 413 at once,
 * and the rest is read and dropped so the client sees that answer.
 */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        resolve(undefined);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
