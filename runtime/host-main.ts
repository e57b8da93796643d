// Production entry point of the runtime host that runs every simulated runtime's agent.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/logger.js';
import { onShutdown, runMain } from '../lib/main.js';
import { connectionOptions } from '../lib/temporal.js';
import { startRuntimeHost } from './host.js';
import { installRuntime } from '../lib/sdk-logging.js';

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  installRuntime(logger);
  const options = await connectionOptions(config.temporal);
  let connection: NativeConnection | undefined;
  // Registered first: a signal while Temporal is still awaited stops the process too.
  const started: { host?: Awaited<ReturnType<typeof startRuntimeHost>> } = {};
  onShutdown(async () => {
    await started.host?.stop();
    // A worker the SDK left hanging after a failure (see runtime/supervise.ts) still holds the connection.
    await connection?.close().catch((error: unknown) => logger.warn({ err: error }, 'Temporal connection not closed'));
  });
  // Temporal may not be up yet (or be down for a while): wait for it rather than exit.
  for (let delay = 1_000; !connection; delay = Math.min(delay * 2, 30_000)) {
    try {
      connection = await NativeConnection.connect(options);
    } catch (error) {
      logger.warn({ err: error, address: config.temporal.address, retryInMs: delay }, 'Temporal is not reachable; trying again after a pause');
      await sleep(delay);
    }
  }
  started.host = await startRuntimeHost({ connection, namespace: config.temporal.namespace, root: path.join(config.dataDir, 'simulated'), logger });
  logger.info({ gateway: started.host.gateway }, 'runtime host running');
});
