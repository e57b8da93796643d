import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from './logger.js';

let installed = false;

// The SDK's info lines (bundler output, state changes) are noise at Meridian's info level.
const LEVELS: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'WARN', warn: 'WARN', error: 'ERROR', fatal: 'ERROR', silent: 'ERROR' };
const METHODS = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/** Routes the Temporal SDK's own log lines into pino; once per process, before any worker connection. */
export function installRuntime(logger: Logger): void {
  if (installed) return;
  installed = true;
  const sdk = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger(LEVELS[logger.level] ?? 'INFO', ({ level, message, meta }) => sdk[METHODS[level]](meta ?? {}, message)),
  });
}
