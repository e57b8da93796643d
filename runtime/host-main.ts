// Production entry point of the runtime host that runs every simulated runtime's agent.
import path from 'node:path';
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
  const connection = await NativeConnection.connect(await connectionOptions(config.temporal));
  const host = await startRuntimeHost({ connection, namespace: config.temporal.namespace, root: path.join(config.dataDir, 'simulated') });
  logger.info({ gateway: host.gateway }, 'runtime host running');
  onShutdown(async () => {
    await host.stop();
    await connection.close();
  });
});
