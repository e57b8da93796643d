// The tenant at a glance, for the console's overview: counts only, computed in PostgreSQL.
import type { Db } from './tx.js';

export interface Overview {
  applications: Record<string, number>;
  runtimes: Record<string, number>;
  /** CONNECTED runtimes by how long ago they last called Meridian. */
  freshness: { fresh: number; stale: number; never: number };
  credentialSlots: Record<string, number>;
  failedDeliveries24h: number;
  operations: { inProgress: number; failed24h: number };
}

/**
 * Counts of the tenant's objects by condition and state. A CONNECTED runtime is stale when it has not
 * called for `staleAfterSeconds`, or for three of its poll intervals when that is longer.
 */
export async function tenantOverview(db: Db, tenantId: string, staleAfterSeconds: number): Promise<Overview> {
  const byKey = (rows: Array<{ key: string; n: number }>) => Object.fromEntries(rows.map((r) => [r.key, Number(r.n)]));
  const countsBy = (sql: string, params: unknown[] = [tenantId]) => db.query<{ key: string; n: number }>(sql, params);
  // One after another: a console polling the overview holds one pooled connection, not five.
  const applications = await countsBy('SELECT condition AS key, count(*) AS n FROM applications WHERE tenant_id = $1 GROUP BY 1');
  const runtimes = await countsBy('SELECT condition AS key, count(*) AS n FROM runtimes WHERE tenant_id = $1 GROUP BY 1');
  const freshness = await countsBy(
    `SELECT CASE WHEN s.seen_at IS NULL THEN 'never' WHEN s.seen_at < now() - make_interval(secs => GREATEST($2, 3 * r.poll_interval_seconds)) THEN 'stale' ELSE 'fresh' END AS key, count(*) AS n
     FROM runtimes r LEFT JOIN runtime_last_seen s ON s.runtime_id = r.id WHERE r.tenant_id = $1 AND r.condition = 'CONNECTED' GROUP BY 1`,
    [tenantId, staleAfterSeconds],
  );
  const slots = await countsBy('SELECT status AS key, count(*) AS n FROM credential_slots WHERE tenant_id = $1 GROUP BY 1');
  const counts = await db.query<{ failed_deliveries: number; in_progress: number; failed_operations: number }>(
    `SELECT (SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND state = 'FAILED' AND updated_at > now() - interval '24 hours') AS failed_deliveries,
            (SELECT count(*) FROM operations WHERE tenant_id = $1 AND state = 'IN_PROGRESS') AS in_progress,
            (SELECT count(*) FROM operations WHERE tenant_id = $1 AND state = 'FAILED' AND finished_at > now() - interval '24 hours') AS failed_operations`,
    [tenantId],
  );
  const c = counts.rows[0]!;
  return {
    applications: byKey(applications.rows),
    runtimes: byKey(runtimes.rows),
    freshness: { fresh: 0, stale: 0, never: 0, ...byKey(freshness.rows) },
    credentialSlots: byKey(slots.rows),
    failedDeliveries24h: Number(c.failed_deliveries),
    operations: { inProgress: Number(c.in_progress), failed24h: Number(c.failed_operations) },
  };
}
