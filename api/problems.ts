import { STATUS_CODES } from 'node:http';
import { WorkflowUpdateRPCTimeoutOrCancelledError, isGrpcServiceError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { InvalidCursor, UnknownScenarios } from '../db/objects.js';
import { DEADLOCK_DETECTED, FOREIGN_KEY_VIOLATION, SERIALIZATION_FAILURE, isConnectionError, pgError } from '../db/tx.js';
import type { Logger } from '../lib/logger.js';

export interface FieldError {
  path: string;
  message: string;
}

/** An RFC 9457 problem; any route throws one to answer with `application/problem+json`. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }

  get type(): string {
    return `https://meridian.dev/problems/${this.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  }

  toJSON() {
    return { type: this.type, title: this.title, status: this.status, detail: this.detail, ...(this.errors && { errors: this.errors }) };
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) => new HttpProblem(400, 'Bad Request', detail, errors);
export const unauthorized = (detail: string) => new HttpProblem(401, 'Unauthorized', detail);
export const notFound = (detail = 'no such resource') => new HttpProblem(404, 'Not Found', detail);
export const conflict = (detail: string) => new HttpProblem(409, 'Conflict', detail);
export const serviceUnavailable = (detail = 'a service Meridian depends on is unavailable; retry shortly') => new HttpProblem(503, 'Service Unavailable', detail);

/** Seconds a client should wait before retrying a 503 (the `Retry-After` header). */
export const RETRY_AFTER_SECONDS = 2;

/**
 * gRPC status codes of a Temporal server that cannot be reached or did not answer in time. CANCELLED is
 * the request's own deadline too: a workflow result still awaited when it passes (seen under load, from
 * `execute` of a certificate issuance) ends with it rather than with DEADLINE_EXCEEDED.
 */
const GRPC_CANCELLED = 1;
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const TEMPORAL_DID_NOT_ANSWER = new Set([GRPC_CANCELLED, GRPC_UNAVAILABLE, GRPC_DEADLINE_EXCEEDED]);

/** Temporal unreachable: gRPC UNAVAILABLE, DEADLINE_EXCEEDED or CANCELLED (also as the cause of the client's `ServiceError`), or a native transport error. */
function isTemporalUnavailable(error: unknown, depth = 0): boolean {
  if (depth > 5 || !(error instanceof Error)) return false;
  if (isGrpcServiceError(error) && TEMPORAL_DID_NOT_ANSWER.has(error.code)) return true;
  if (error.name === 'TransportError') return true;
  // An update not finished by the request's deadline (no worker took it yet): it goes on, and a retry joins it.
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  return error.cause !== error && isTemporalUnavailable(error.cause, depth + 1);
}

/**
 * True when `error` means a dependency (PostgreSQL or Temporal) is unreachable or lost the connection:
 * the request may succeed when retried later, and is answered 503 with `Retry-After`.
 */
export function isUnavailable(error: unknown): boolean {
  return isConnectionError(error) || isTemporalUnavailable(error);
}

/** The problem schema, for the OpenAPI document. */
export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ title: 'Problem' });

/** Turns zod issues into field errors whose path names the field: `labels.env: must be ...`. */
export function fieldErrors(error: z.ZodError, prefix?: string): FieldError[] {
  return error.issues.map((issue) => {
    const parts = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') return { path: [prefix, ...parts, issue.keys.join(', ')].filter(Boolean).join('.'), message: 'is not a known field' };
    return { path: [prefix, ...parts].filter(Boolean).join('.') || (prefix ?? 'body'), message: issue.message };
  });
}

export const notFoundRoute: RequestHandler = (req) => {
  throw notFound(`no route for ${req.method} ${req.path}`);
};

/**
 * The one place errors become HTTP answers: problems as they are, an unavailable dependency a 503 with
 * `Retry-After`, Express's own 4xx errors (a path that is not valid percent-encoding) that 4xx, and anything
 * unexpected a logged 500 with no internals.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const log = req.log ?? logger;
    if (res.headersSent) {
      // Too late for a problem: the answer is under way. End the connection so the client sees it broke.
      log.warn({ err: describe(error) }, 'error after the response started');
      res.destroy();
      return;
    }
    let problem: HttpProblem;
    if (error instanceof HttpProblem) {
      problem = error;
    } else if (error instanceof UnknownScenarios) {
      problem = badRequest(error.message, [{ path: 'scenarios', message: `unknown: ${error.names.join(', ')}` }]);
    } else if (error instanceof InvalidCursor) {
      problem = badRequest('the request query is invalid', [{ path: 'query.cursor', message: 'is not a cursor this server issued' }]);
    } else if (isBodyParserError(error)) {
      problem =
        error.type === 'entity.too.large'
          ? new HttpProblem(413, 'Content Too Large', 'the request body is larger than 1 MiB')
          : error.type === 'entity.parse.failed'
            ? badRequest('the request body is not valid JSON')
            : error.type === 'charset.unsupported' || error.type === 'encoding.unsupported'
              ? new HttpProblem(415, 'Unsupported Media Type', 'the request body must be UTF-8 JSON')
              : badRequest('the request body could not be read');
    } else if (pgError(error)?.code === FOREIGN_KEY_VIOLATION) {
      problem = goneReferent(req.client?.kind);
    } else if (pgError(error)?.code === DEADLOCK_DETECTED || pgError(error)?.code === SERIALIZATION_FAILURE) {
      // Two transactions locked the same rows in opposite orders (membership triggers update both sides
      // of a scenario); PostgreSQL rolled this one back, changing nothing. Retrying succeeds.
      log.warn({ err: describe(error) }, 'transaction rolled back by PostgreSQL (deadlock); answered 503');
      problem = serviceUnavailable('the change collided with a concurrent one and was not made; retry it');
    } else if (isUnavailable(error)) {
      log.warn({ err: describe(error) }, 'dependency unavailable; answered 503');
      problem = serviceUnavailable();
    } else if (clientErrorStatus(error) !== undefined) {
      problem = clientProblem(error as Error, clientErrorStatus(error)!);
    } else {
      log.error({ err: error }, 'unhandled error');
      problem = new HttpProblem(500, 'Internal Server Error', 'an unexpected error occurred; it has been logged');
    }
    if (problem.status === 503) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  };
}

/**
 * A write that refers to a row deleted meanwhile (a foreign-key violation). For a certificate's caller
 * that row is its own application or runtime: deleted, and its certificate revoked, though a replica's
 * revocation list learns of that only up to REVOCATION_REFRESH_MS (api/mtls.ts) later, and a request
 * authenticated just before the delete commits writes after it.
 */
function goneReferent(caller: 'application' | 'runtime' | undefined): HttpProblem {
  if (caller) return unauthorized(`the client certificate's ${caller} no longer exists`);
  return conflict('the request refers to something that was deleted meanwhile');
}

/** One line about an error for a warning: its message and code, no stack. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const cause = error.cause instanceof Error && error.cause.message !== error.message ? ` (${error.cause.message})` : '';
  return `${error.message || error.name}${code !== undefined ? ` [${String(code)}]` : ''}${cause}`;
}

/** The 4xx status Express, its router or a middleware put on an error (`status` or `statusCode`), if any. */
function clientErrorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const value = typeof status === 'number' ? status : statusCode;
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value < 500 ? value : undefined;
}

function clientProblem(error: Error, status: number): HttpProblem {
  const title = STATUS_CODES[status] ?? 'Bad Request';
  // The router's URIError ("Failed to decode param '%ZZ'") for a path that is not valid percent-encoding.
  if (error instanceof URIError) return new HttpProblem(status, title, 'the request path is not valid percent-encoding');
  const expose = (error as { expose?: unknown }).expose === true;
  return new HttpProblem(status, title, expose && error.message ? error.message : title.toLowerCase());
}

function isBodyParserError(error: unknown): error is { type: string; status: number } {
  return typeof error === 'object' && error !== null && 'type' in error && typeof error.type === 'string' && 'status' in error;
}
