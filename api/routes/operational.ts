// Operational endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document.
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { ping } from '../../db/pool.js';
import type { Metrics } from '../../lib/metrics.js';
import { route, type Route } from '../route.js';

const PROBE_TIMEOUT_MS = 2_000;

/**
 * Runs one dependency check; never throws and never takes longer than {@link PROBE_TIMEOUT_MS} (an
 * exhausted pool or a server that does not answer is "no answer"). The reason it failed, if it did.
 */
async function probe(check: () => Promise<unknown>): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
  });
  try {
    // `check` is called inside the race so that even a synchronous throw becomes a failed check.
    await Promise.race([Promise.resolve().then(check), timeout]);
    return undefined;
  } catch (error) {
    return reason(error);
  } finally {
    clearTimeout(timer);
  }
}

/** A short reason: the message, else the code (an AggregateError of refused connections has no message). */
function reason(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error ?? 'unreachable');
  const { message, code } = error as { message?: unknown; code?: unknown };
  if (typeof message === 'string' && message) return message;
  return typeof code === 'string' ? code : 'unreachable';
}

/** One dependency's state; why it is unavailable is logged, not answered. */
const Check = z.enum(['ok', 'unavailable']);

const Readiness = z.object({
  status: z.enum(['ready', 'unavailable']),
  checks: z.object({ postgres: Check, temporal: Check }),
});

export interface OperationalDeps {
  pool: pg.Pool;
  temporal: Client;
  metrics: Metrics;
  openapi: () => unknown;
}

/** `/healthz`, `/readyz`, `/metrics` and `/openapi.json`. */
export function operationalRoutes({ pool, temporal: client, metrics, openapi }: OperationalDeps): Route[] {
  return [
    route({
      method: 'get',
      path: '/healthz',
      operationId: 'health',
      summary: 'The process is up',
      tag: 'operational',
      responses: { 200: { description: 'Up', schema: z.object({ status: z.literal('ok') }) } },
      handle: () => ({ status: 200, body: { status: 'ok' } }),
    }),
    route({
      method: 'get',
      path: '/readyz',
      operationId: 'readiness',
      summary: 'PostgreSQL and Temporal are reachable',
      tag: 'operational',
      responses: {
        200: { description: 'Ready', schema: Readiness },
        503: { description: 'A dependency is unreachable; `checks` says which (the reason is in the log)', schema: Readiness },
      },
      handle: async ({ req }) => {
        const [postgres, temporal] = await Promise.all([
          probe(() => ping(pool)),
          // The deadline ends the call (and the client's retries) with the probe, so none piles up while Temporal is down.
          probe(() => client.connection.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () => client.connection.workflowService.getSystemInfo({}))),
        ]);
        // The reasons are logged, never answered: they can name hosts, ports and users of the deployment.
        const failed = Object.fromEntries(Object.entries({ postgres, temporal }).filter(([, reason]) => reason !== undefined));
        if (Object.keys(failed).length) req.log.warn({ checks: failed }, 'not ready: a dependency is unavailable');
        const ready = postgres === undefined && temporal === undefined;
        return {
          status: ready ? 200 : 503,
          body: { status: ready ? 'ready' : 'unavailable', checks: { postgres: postgres ? 'unavailable' : 'ok', temporal: temporal ? 'unavailable' : 'ok' } },
        };
      },
    }),
    route({
      method: 'get',
      path: '/metrics',
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      tag: 'operational',
      responses: { 200: { description: 'Prometheus text exposition', schema: z.string(), contentType: 'text/plain' } },
      handle: async ({ res }) => {
        res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
        return undefined;
      },
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      operationId: 'openapi',
      summary: 'This OpenAPI 3.1 document',
      tag: 'operational',
      responses: { 200: { description: 'OpenAPI 3.1 document', schema: z.record(z.string(), z.unknown()) } },
      handle: () => ({ status: 200, body: openapi() }),
    }),
  ];
}
