import type pg from 'pg';

/** What activities need from the outside world; tests pass real or fake ones. */
export interface ActivityDeps {
  pool: pg.Pool;
}

/** Builds the management plane's activities around their dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    /** Readiness of the system of record, as seen from the worker. */
    async checkDatabase(): Promise<{ serverVersion: string }> {
      const { rows } = await deps.pool.query<{ server_version: string }>('SHOW server_version');
      return { serverVersion: rows[0]!.server_version };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
