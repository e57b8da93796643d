// The tenant at a glance: what the console's overview shows, counted by PostgreSQL.
import type pg from 'pg';
import { z } from 'zod';
import { tenantOverview } from '../../db/overview.js';
import { tenantOf } from '../auth.js';
import { route, type Route } from '../route.js';

/** The default of {@link OverviewRouteDeps.runtimeStaleSeconds}. */
export const RUNTIME_STALE_SECONDS = 180;

const Counts = z.record(z.string(), z.number().int());

const Overview = z.object({
  applications: Counts.describe('By condition'),
  runtimes: Counts.describe('By condition; UNREACHABLE: CONNECTED runtimes that stopped calling (MERIDIAN_UNREACHABLE_AFTER_INTERVALS), not counted in freshness'),
  freshness: z
    .object({ fresh: z.number().int(), stale: z.number().int(), never: z.number().int() })
    .describe('CONNECTED runtimes by their last call: within staleAfterSeconds (or three of their poll intervals, when longer), longer ago, or not since this was recorded'),
  staleAfterSeconds: z.number().int(),
  credentialSlots: Counts.describe('By status'),
  failedDeliveries24h: z.number().int().describe('Webhook deliveries that ended FAILED in the last 24 hours'),
  operations: z.object({ inProgress: z.number().int(), failed24h: z.number().int() }),
});

export interface OverviewRouteDeps {
  pool: pg.Pool;
  /** A CONNECTED runtime unheard of this long counts as stale. @default 180 */
  runtimeStaleSeconds?: number;
}

/** `GET /v1/overview` (admin). */
export function overviewRoutes({ pool, runtimeStaleSeconds = RUNTIME_STALE_SECONDS }: OverviewRouteDeps): Route[] {
  return [
    route({
      method: 'get',
      path: '/v1/overview',
      operationId: 'get-overview',
      summary: "Counts of the tenant's applications, runtimes (and their freshness), credential slots, failed deliveries and operations",
      tag: 'overview',
      auth: 'admin',
      responses: { 200: { description: 'The counts', schema: Overview } },
      handle: async ({ req }) => ({
        status: 200,
        body: { ...(await tenantOverview(pool, tenantOf(req), runtimeStaleSeconds)), staleAfterSeconds: runtimeStaleSeconds },
      }),
    }),
  ];
}
