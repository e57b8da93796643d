// A local runtime: its gateway and its agent worker (task queue runtime-<id>), started detached by
// the local provider with `--dir <runtime directory>`, so it outlives a worker restart. Nothing
// restarts it, so it outlives Temporal too: the worker is supervised (runtime/supervise.ts) and the
// gateway answers every request, however malformed.
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { AGENT_WORKER_OPTIONS, agentWorkflowBundle, createAgentActivities } from './activities.js';
import { readJson, runtimeFiles, writeAtomically, type GatewayFile, type LocalRuntimeConfig } from './files.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown, runMain } from '../lib/main.js';
import { startGateway } from './gateway.js';
import { superviseWorker } from '../lib/supervise.js';
import { installRuntime } from '../lib/sdk-logging.js';
import { connectionOptions } from '../lib/temporal.js';

runMain(async () => {
  const dirArg = process.argv.indexOf('--dir');
  const dir = path.resolve(process.argv[dirArg + 1] ?? '.');
  const root = path.dirname(dir);
  const config = JSON.parse(fs.readFileSync(runtimeFiles(root, path.basename(dir)).config, 'utf8')) as LocalRuntimeConfig;
  const logger = createLogger(process.env.LOG_LEVEL ?? 'info').child({ runtimeId: config.runtimeId });
  installRuntime(logger);
  const files = runtimeFiles(root, config.runtimeId);
  // The port of an earlier start, so the eventUrl the runtime reported stays true.
  const earlier = readJson<GatewayFile>(files.gateway);
  const previous = earlier ? Number(new URL(earlier.url).port) : 0;
  const gateway = await startGateway(root, {
    runtimeId: config.runtimeId,
    port: previous,
    outbound: config.outbound ?? { allowPrivate: false },
    report: (err, context) => logger.error({ err, ...context }, 'gateway'),
  });
  const activities = createAgentActivities({ root, eventUrl: () => `${gateway.url}/events` });
  const workflowBundle = await agentWorkflowBundle();
  // Connected lazily and again until it works: Temporal may be down when the runtime starts.
  let connection: NativeConnection | undefined;
  const worker = superviseWorker({
    name: `runtime-${config.runtimeId}`,
    logger,
    create: async () => {
      connection ??= await NativeConnection.connect(await connectionOptions(config.temporal));
      return Worker.create({ connection, namespace: config.temporal.namespace, taskQueue: config.taskQueue, workflowBundle, activities, ...AGENT_WORKER_OPTIONS });
    },
  });
  onShutdown(() => worker.stop());
  await worker.started;
  writeAtomically(files.gateway, JSON.stringify({ url: gateway.url, pid: process.pid } satisfies GatewayFile), 0o644);
  logger.info({ gateway: gateway.url, taskQueue: config.taskQueue }, 'runtime running');
  await worker.done;
  gateway.server.close();
  // A worker the SDK left hanging after a failure (see runtime/supervise.ts) still holds the connection.
  await connection?.close().catch((error: unknown) => logger.warn({ err: error }, 'Temporal connection not closed'));
});
