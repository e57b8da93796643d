import { Worker, type NativeConnection } from '@temporalio/worker';
import { AGENT_WORKER_OPTIONS, agentWorkflowBundle, createAgentActivities, type AgentObserver } from './activities.js';
import { RUNTIME_HOST_QUEUE } from '../activities/providers/simulated.js';
import { startGateway } from './gateway.js';
import { superviseWorker } from '../lib/supervise.js';
import { createLogger, type Logger } from '../lib/logger.js';
import type { OutboundConfig } from '../lib/config.js';

/**
 * The runtime host: one worker and one gateway for every simulated runtime under `root`. The worker
 * is supervised: one that fails (Temporal gone for good, then back) is logged and created again.
 * Resolves once the worker runs.
 */
export async function startRuntimeHost(options: {
  connection: NativeConnection;
  namespace: string;
  root: string;
  taskQueue?: string;
  /** Port of the gateway on 127.0.0.1. @default 0 (a free one) */
  port?: number;
  /** Hears every configuration answer and applied version (benchmarks, tests). */
  observer?: AgentObserver;
  /** The design of the agents it hosts (MERIDIAN_AGENT_DESIGN): it sizes the workflow cache. @default watch */
  agentDesign?: 'watch' | 'poll';
  logger?: Logger;
  /** What the gateway's calls to targetUrls and tokenUrls may reach (MERIDIAN_OUTBOUND_ALLOW_PRIVATE). @default private addresses refused */
  outbound?: OutboundConfig;
}) {
  const logger = (options.logger ?? createLogger(process.env.LOG_LEVEL ?? 'info')).child({ component: 'runtime-host' });
  const gateway = await startGateway(options.root, {
    port: options.port,
    outbound: options.outbound ?? { allowPrivate: false },
    report: (err, context) => logger.error({ err, ...context }, 'runtime host gateway'),
  });
  const activities = createAgentActivities({ root: options.root, eventUrl: (runtimeId) => `${gateway.url}/runtimes/${runtimeId}/events`, observer: options.observer });
  const workflowBundle = await agentWorkflowBundle();
  const supervisor = superviseWorker({
    name: 'runtime-host',
    logger,
    create: () =>
      Worker.create({
        connection: options.connection,
        namespace: options.namespace,
        taskQueue: options.taskQueue ?? RUNTIME_HOST_QUEUE,
        workflowBundle,
        // Looked up per call, so a benchmark can instrument them.
        activities: Object.fromEntries(Object.keys(activities).map((name) => [name, (input: never) => (activities as Record<string, (i: never) => unknown>)[name]!(input)])),
        ...AGENT_WORKER_OPTIONS,
        // A watching agent wakes about once an hour and replays a short history then, so few stay cached
        // (each costs memory); polling ones wake every poll interval and need every runtime cached.
        maxCachedWorkflows: options.agentDesign === 'poll' ? 10_000 : 100,
      }),
  });
  await supervisor.started;
  return {
    gateway: gateway.url,
    /** The worker running now (a new one after a failure). */
    get worker() {
      return supervisor.current;
    },
    activities,
    async stop() {
      await supervisor.stop();
      gateway.server.close();
    },
  };
}
