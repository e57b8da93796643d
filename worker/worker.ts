import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ActivityInboundCallsInterceptor, ActivityExecuteInput, Next } from '@temporalio/worker';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { modulePath } from '../lib/modules.js';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import type { Metrics } from '../lib/metrics.js';
import type { Logger } from '../lib/logger.js';
import { ensureReconciler } from '../services/reconciler.js';
import type { Client } from '@temporalio/client';

/** Source of the workflow bundle; `npm run build` prebuilds it to `dist/workflow-bundle.js`. */
export const WORKFLOWS_PATH = modulePath('../workflows/index', import.meta.url);
const PREBUILT_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  metrics: Metrics;
}

/** Records every activity execution in `meridian_worker_activity_duration_seconds`. */
class ActivityMetrics implements ActivityInboundCallsInterceptor {
  constructor(
    private readonly activity: string,
    private readonly metrics: Metrics,
  ) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const end = this.metrics.activityDuration.startTimer({ activity: this.activity });
    try {
      const result = await next(input);
      end({ outcome: 'completed' });
      return result;
    } catch (error) {
      end({ outcome: 'failed' });
      throw error;
    }
  }
}

/** The management-plane worker (task queue `meridian`): every workflow and activity of docs/architecture.md. */
export async function createWorker({ connection, namespace, taskQueue, deps, metrics }: WorkerOptions): Promise<Worker> {
  const workflows = fs.existsSync(PREBUILT_BUNDLE) ? { workflowBundle: { codePath: PREBUILT_BUNDLE } } : { workflowsPath: WORKFLOWS_PATH };
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    ...workflows,
    activities: createActivities(deps),
    interceptors: { activity: [(ctx) => ({ inbound: new ActivityMetrics(ctx.info.activityType, metrics) })] },
  });
}


/**
 * Starts the reconciler of the namespace unless it runs already (every worker process does this at
 * boot; the first start wins), retrying in the background while Temporal is unreachable. The retry
 * stops with the process: its abort joins `stops`.
 */
export function startReconciler(temporal: Client, taskQueue: string, logger: Logger, stops: Array<() => Promise<void>>): void {
  const starting = new AbortController();
  stops.push(async () => starting.abort());
  void ensureReconciler(temporal, taskQueue, { logger, signal: starting.signal }).then(
    (state) => logger.info({ state }, 'reconciler'),
    (error: Error) => logger.warn({ err: error.message }, 'reconciler not started'),
  );
}
