// A local runtime: its gateway and its agent worker (task queue runtime-<id>), started detached by
// the local provider with `--dir <runtime directory>`, so it outlives a worker restart.
import fs from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { AGENT_WORKFLOWS, createAgentActivities } from './activities.js';
import { readJson, runtimeFiles, writeAtomically, type GatewayFile, type LocalRuntimeConfig } from './files.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown, runMain } from '../lib/main.js';
import { startGateway } from './gateway.js';
import { installRuntime } from '../lib/sdk-logging.js';

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
  const gateway = await startGateway(root, config.runtimeId, previous);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.taskQueue,
    workflowsPath: AGENT_WORKFLOWS,
    activities: createAgentActivities({ root, eventUrl: () => `${gateway.url}/events` }),
  });
  writeAtomically(files.gateway, JSON.stringify({ url: gateway.url, pid: process.pid } satisfies GatewayFile), 0o644);
  onShutdown(async () => worker.shutdown());
  logger.info({ gateway: gateway.url, taskQueue: config.taskQueue }, 'runtime running');
  await worker.run();
  gateway.server.close();
  await connection.close();
});
