import { ConfigError } from './config.js';

/** Runs an entry point: a configuration error is one line on stderr; any failure exits non-zero. */
export function runMain(main: () => Promise<void>, cleanup: () => Promise<void> = async () => undefined): void {
  main().catch(async (error: unknown) => {
    await cleanup().catch(() => undefined);
    const message = error instanceof ConfigError ? `meridian: configuration error: ${error.message}` : `meridian: ${(error as Error).message ?? error}`;
    console.error(message);
    process.exit(1);
  });
}

/** Calls `stop` on the first SIGINT/SIGTERM; a second signal exits at once. */
export function onShutdown(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error(`meridian: ${signal} received, stopping ...`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`meridian: stop failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
