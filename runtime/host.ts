import { Worker, type NativeConnection } from '@temporalio/worker';
import { AGENT_WORKFLOWS, createAgentActivities } from './activities.js';
import { RUNTIME_HOST_QUEUE } from '../activities/providers/simulated.js';
import { startGateway } from './gateway.js';

/** The runtime host: one worker and one gateway for every simulated runtime under `root`. */
export async function startRuntimeHost(options: { connection: NativeConnection; namespace: string; root: string; taskQueue?: string; maxConcurrentActivities?: number }) {
  const gateway = await startGateway(options.root);
  const activities = createAgentActivities({ root: options.root, eventUrl: (runtimeId) => `${gateway.url}/runtimes/${runtimeId}/events` });
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? RUNTIME_HOST_QUEUE,
    workflowsPath: AGENT_WORKFLOWS,
    // Looked up per call, so a benchmark can instrument them.
    activities: Object.fromEntries(Object.keys(activities).map((name) => [name, (input: never) => (activities as Record<string, (i: never) => unknown>)[name]!(input)])),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 200,
    maxCachedWorkflows: 10_000,
  });
  const running = worker.run();
  return {
    gateway: gateway.url,
    worker,
    activities,
    async stop() {
      // The SDK shuts its workers down on SIGINT/SIGTERM itself; a second shutdown would throw.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      gateway.server.close();
    },
  };
}
