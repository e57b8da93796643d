import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one process: Node defaults, HTTP requests (API) and activities (worker). */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Requests answered 429 at once because the API process had as many in flight as it admits (api/shedding.ts). */
  httpShed: Counter;
  /** Requests the API process has admitted and not answered yet, held configuration long polls included. */
  httpInFlight: Gauge;
  /** Configuration requests held now (`Prefer: wait`), read at each scrape from what {@link Metrics.countHeldBy} gave. */
  configRequestsHeld: Gauge;
  /** Tells the metrics where the API process counts its held configuration requests. */
  countHeldBy(count: () => number): void;
  activityDuration: Histogram<'activity' | 'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  let held = () => 0;
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
    httpShed: new Counter({
      name: 'meridian_http_requests_shed_total',
      help: 'Requests answered 429 with Retry-After because MERIDIAN_MAX_REQUESTS_IN_FLIGHT requests were in flight',
      registers: [registry],
    }),
    httpInFlight: new Gauge({
      name: 'meridian_http_requests_in_flight',
      help: 'Requests this API process admitted and has not answered yet, held configuration long polls (Prefer: wait) included; those do not count against MERIDIAN_MAX_REQUESTS_IN_FLIGHT',
      registers: [registry],
    }),
    configRequestsHeld: new Gauge({
      name: 'meridian_config_requests_held',
      help: 'Runtime configuration requests this API process holds until a change or the end of their wait (Prefer: wait): runtimes watching',
      registers: [registry],
      collect() {
        this.set(held());
      },
    }),
    countHeldBy: (count) => void (held = count),
    activityDuration: new Histogram({
      name: 'meridian_worker_activity_duration_seconds',
      help: 'Activity execution duration on this worker by activity type and outcome',
      labelNames: ['activity', 'outcome'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300],
      registers: [registry],
    }),
  };
}
