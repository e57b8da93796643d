import { ConfigError } from './config.js';

/** How long the cleanup of a process that met an uncaught exception may take before it exits anyway. */
const FATAL_CLEANUP_MS = 15_000;

let handlersInstalled = false;

const describe = (error: unknown) => (error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error));

/**
 * Process-level last resorts, installed once. A promise rejection nobody handled is a bug but not a reason
 * to stop serving: it is logged and the process goes on. An uncaught exception leaves the process in an
 * unknown state: it is logged, `cleanup` runs (bounded) and the process exits 1, to be restarted. Everything
 * expected (lost connections, socket errors, bad requests) is handled where it happens, not here.
 */
function installProcessHandlers(cleanup: () => Promise<void>): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('unhandledRejection', (reason: unknown) => {
    console.error(`meridian: unhandled promise rejection (continuing): ${describe(reason)}`);
  });
  let exiting = false;
  process.on('uncaughtException', (error: unknown) => {
    console.error(`meridian: uncaught exception, exiting: ${describe(error)}`);
    if (exiting) return;
    exiting = true;
    setTimeout(() => process.exit(1), FATAL_CLEANUP_MS).unref();
    void cleanup()
      .catch(() => undefined)
      .finally(() => process.exit(1));
  });
}

/** Runs an entry point: a configuration error is one line on stderr; any failure exits non-zero. */
export function runMain(main: () => Promise<void>, cleanup: () => Promise<void> = async () => undefined): void {
  installProcessHandlers(cleanup);
  main().catch(async (error: unknown) => {
    await cleanup().catch(() => undefined);
    const message = error instanceof ConfigError ? `meridian: configuration error: ${error.message}` : `meridian: ${error instanceof Error ? error.message : String(error)}`;
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

/**
 * What an entry point started, in order (`stops.push(...)`), and `stopAll`, which stops it in reverse once,
 * however often it is called (on Ctrl-C, or when start-up fails half-way); a stop that fails is logged.
 */
export function stopStack(): { stops: Array<() => Promise<void>>; stopAll: () => Promise<void> } {
  const stops: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const stop of stops.splice(0).reverse()) await stop().catch((error: Error) => console.error(`meridian: stop failed: ${error.message}`));
    })());
  return { stops, stopAll };
}
