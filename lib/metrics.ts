import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one process: Node defaults, HTTP requests (API) and activities (worker). */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  activityDuration: Histogram<'activity' | 'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'meridian_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'meridian_http_request_duration_seconds',
      help: 'API request duration by route template and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    activityDuration: new Histogram({
      name: 'meridian_worker_activity_duration_seconds',
      help: 'Activity execution duration on this worker by activity type and outcome',
      labelNames: ['activity', 'outcome'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300],
      registers: [registry],
    }),
  };
}
