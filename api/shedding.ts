// Load shedding: an API process works on at most MERIDIAN_MAX_REQUESTS_IN_FLIGHT requests at once and
// answers the excess at once with 429 and a spread Retry-After, instead of queueing it and slowing every
// caller (a reconnection storm after a restart of the management plane: every agent at once).
import type { RequestHandler } from 'express';
import type { Metrics } from '../lib/metrics.js';
import { HttpProblem } from './problems.js';

/**
 * The `Retry-After` of a shed request is a whole number of seconds drawn from this range, so that the
 * callers shed by one burst come back spread over it rather than all in the same second.
 */
export const SHED_RETRY_AFTER_SECONDS = { min: 1, max: 5 } as const;

/** Paths that are never shed: probes and metrics must answer while the API is busiest. */
const NEVER_SHED = new Set(['/healthz', '/readyz', '/metrics']);

/** Whether a request to `path` may be answered 429 (every path but the probes and `/metrics`). */
export const isShedable = (path: string) => !NEVER_SHED.has(path);

export interface SheddingOptions {
  /** Requests admitted at once; 0 or undefined admits every request. */
  maxInFlight?: number;
  metrics: Metrics;
  /**
   * Requests admitted but waiting for something else than this process (held configuration long polls,
   * `ConfigWaiters.held`): not counted against the limit while they wait.
   */
  waiting: () => number;
}

/** A whole number of seconds in {@link SHED_RETRY_AFTER_SECONDS}, uniformly. */
export function spreadRetryAfter(random = Math.random): number {
  const { min, max } = SHED_RETRY_AFTER_SECONDS;
  return min + Math.floor(random() * (max - min + 1));
}

/** The problem a shed request is answered with. */
export const tooManyRequests = () =>
  new HttpProblem(429, 'Too Many Requests', 'Meridian is working on as many requests as it admits at once; retry after the seconds in Retry-After');

/**
 * Admits a request while fewer than `maxInFlight` are in flight (held long polls not counted, see
 * {@link SheddingOptions.waiting}) and counts it until its answer is sent or its connection closes;
 * otherwise answers 429 problem+json with a spread `Retry-After` at once, before authentication or
 * body parsing, and counts it in `meridian_http_requests_shed_total`. `/healthz`, `/readyz` and
 * `/metrics` are never shed.
 */
export function shedExcessRequests({ maxInFlight, metrics, waiting }: SheddingOptions): RequestHandler {
  let inFlight = 0;
  return (req, res, next) => {
    if (!isShedable(req.path)) return next();
    if (maxInFlight && inFlight - waiting() >= maxInFlight) {
      metrics.httpShed.inc();
      const problem = tooManyRequests();
      res.set('Retry-After', String(spreadRetryAfter()));
      res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
      return;
    }
    inFlight++;
    metrics.httpInFlight.inc();
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      inFlight--;
      metrics.httpInFlight.dec();
    };
    res.once('finish', done);
    res.once('close', done);
    next();
  };
}
