import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { InvalidCursor, UnknownScenarios } from '../db/objects.js';
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

/** The one place errors become HTTP answers; anything unexpected is a logged 500 with no internals. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
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
    } else {
      (req.log ?? logger).error({ err: error }, 'unhandled error');
      problem = new HttpProblem(500, 'Internal Server Error', 'an unexpected error occurred; it has been logged');
    }
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  };
}

function isBodyParserError(error: unknown): error is { type: string; status: number } {
  return typeof error === 'object' && error !== null && 'type' in error && typeof error.type === 'string' && 'status' in error;
}
