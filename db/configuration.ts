import type { Db } from './tx.js';

/** An application as a runtime's configuration lists it: its APIs and events (credentials are added by the caller). */
export interface ConfiguredApplication {
  id: string;
  name: string;
  description: string;
  apis: Array<{ id: string; name: string; targetUrl: string | null }>;
  events: Array<{ id: string; name: string }>;
}

/** A runtime as an application's configuration lists it. */
export interface ConfiguredRuntime {
  id: string;
  name: string;
  status: string;
  eventUrl: string | null;
  /** The runtime's scenarios that the application shares. */
  scenarios: string[];
}

/** Applications of the tenant that share a scenario with the runtime, by name, with their APIs and events in creation order. */
export async function runtimeConfiguration(db: Db, tenantId: string, runtimeId: string): Promise<ConfiguredApplication[]> {
  const { rows } = await db.query<ConfiguredApplication>(
    `SELECT a.id, a.name, a.description,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name, 'targetUrl', d.target_url) ORDER BY d.created_at, d.id)
                 FROM definitions d WHERE d.application_id = a.id AND d.kind = 'API'), '[]') AS apis,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name) ORDER BY d.created_at, d.id)
                 FROM definitions d WHERE d.application_id = a.id AND d.kind = 'EVENT'), '[]') AS events
     FROM applications a
     WHERE a.tenant_id = $1 AND a.id IN (
       SELECT am.application_id FROM runtime_scenarios rm
       JOIN application_scenarios am ON am.tenant_id = rm.tenant_id AND am.scenario = rm.scenario
       WHERE rm.runtime_id = $2)
     ORDER BY a.name`,
    [tenantId, runtimeId],
  );
  return rows;
}

/** Runtimes of the tenant that share a scenario with the application, by name, with their condition, eventUrl and shared scenarios. */
export async function applicationConfiguration(db: Db, tenantId: string, applicationId: string): Promise<ConfiguredRuntime[]> {
  const { rows } = await db.query<ConfiguredRuntime>(
    `SELECT r.id, r.name, r.condition AS status, r.event_url AS "eventUrl", array_agg(rm.scenario ORDER BY rm.scenario) AS scenarios
     FROM runtimes r
     JOIN runtime_scenarios rm ON rm.runtime_id = r.id
     JOIN application_scenarios am ON am.tenant_id = rm.tenant_id AND am.scenario = rm.scenario
     WHERE am.application_id = $1 AND r.tenant_id = $2
     GROUP BY r.id ORDER BY r.name`,
    [applicationId, tenantId],
  );
  return rows;
}
