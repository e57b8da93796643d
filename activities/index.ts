import { createConnectorActivities, type ConnectorDeps } from './connector.js';

/** What activities need from the outside world; tests pass real or fake ones. */
export type ActivityDeps = ConnectorDeps;

/** Builds the management plane's activities around their dependencies. */
export function createActivities(deps: ActivityDeps) {
  return { ...createConnectorActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
