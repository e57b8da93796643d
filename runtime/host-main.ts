// Production entry point of the runtime host that runs every simulated runtime's agent.
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { whenReachable } from '../lib/backoff.js';
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
  // Registered first: a signal while Temporal is still awaited stops the process too.
  const started: { connection?: NativeConnection; host?: Awaited<ReturnType<typeof startRuntimeHost>> } = {};
  onShutdown(async () => {
    await started.host?.stop();
    // A worker the SDK left hanging after a failure (see lib/supervise.ts) still holds the connection.
    await started.connection?.close().catch((error: unknown) => logger.warn({ err: error }, 'Temporal connection not closed'));
  });
  // Temporal may not be up yet (or be down for a while): wait for it rather than exit.
  const connection = (started.connection = await whenReachable(`Temporal at ${config.temporal.address}`, () => NativeConnection.connect(options), logger));
  started.host = await startRuntimeHost({ connection, namespace: config.temporal.namespace, root: path.join(config.dataDir, 'simulated'), port: config.runtimeHostPort, outbound: config.outbound, agentDesign: config.provisioning.agentDesign, logger });
  logger.info({ gateway: started.host.gateway }, 'runtime host running');
});
