// Spec validation off the worker's event loop (docs/architecture.md, flow 2): validateSpec runs in a
// small pool of worker threads, each with a bounded heap. A validation that takes longer than the time
// limit has its thread terminated (and replaced) and ends FAILED; so does one that runs out of heap.
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { modulePath } from '../lib/modules.js';
import type { SpecFormat, SpecType, SpecVerdict } from './validate.js';
import type { ValidationRequest } from './validation-thread.js';

/** Threads validating at once; further validations wait for one. */
export const VALIDATION_THREADS = 2;
/** Old-generation heap of one validation thread; a spec that needs more ends FAILED. */
export const VALIDATION_HEAP_MB = 256;
/** How long a new thread may take to load the parsers (not counted in a validation's time limit). */
const STARTUP_LIMIT_MS = 60_000;

const ENTRY = modulePath('./validation-thread', import.meta.url);

/**
 * Thrown by {@link SpecValidator.validate} when a thread fails for a reason that is not the spec's (it
 * could not start, or crashed); the registration activity is retried.
 */
export class ValidationThreadFailed extends Error {
  override name = 'ValidationThreadFailed';
}

export interface SpecValidator {
  /** The verdict of {@link validateSpec} on `data`, computed in a thread of the pool within the time limit. */
  validate(type: SpecType, format: SpecFormat, data: string): Promise<SpecVerdict>;
}

/** A new validation thread: compiled JS as it is, TypeScript sources (tests, `npm start`) through tsx. */
function spawn(): Worker {
  const options = { resourceLimits: { maxOldGenerationSizeMb: VALIDATION_HEAP_MB } };
  if (!ENTRY.endsWith('.ts')) return new Worker(ENTRY, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(pathToFileURL(ENTRY).href)}); });`;
  return new Worker(boot, { ...options, eval: true, execArgv: [] });
}

type Outcome = { message: unknown } | { failure: Error & { code?: string } } | 'timeout';

/** The thread's next message, its error or exit, or `timeout` after `ms`: whichever comes first. */
function next(worker: Worker, ms: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const settle = (outcome: Outcome) => {
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      resolve(outcome);
    };
    const onMessage = (message: unknown) => settle({ message });
    const onError = (failure: Error) => settle({ failure });
    const onExit = (code: number) => settle({ failure: new Error(`the thread exited with code ${code}`) });
    const timer = setTimeout(() => settle('timeout'), ms);
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}

/** A thread that has loaded the parsers; it does not keep the process alive. */
async function startThread(): Promise<Worker> {
  const worker = spawn();
  worker.unref();
  // Errors are reported to the validation (or start) they end; this keeps one from going unhandled.
  worker.on('error', () => undefined);
  const outcome = await next(worker, STARTUP_LIMIT_MS);
  if (outcome === 'timeout' || 'failure' in outcome) {
    void worker.terminate();
    const why = outcome === 'timeout' ? `did not start within ${STARTUP_LIMIT_MS / 1000} s` : `failed to start: ${outcome.failure.message}`;
    throw new ValidationThreadFailed(`the spec validation thread ${why}`);
  }
  return worker;
}

/**
 * A pool of at most `threads` validation threads, started when first needed and kept for the next
 * validations. `timeoutMs` bounds each validation.
 */
export function createSpecValidator({ timeoutMs, threads = VALIDATION_THREADS }: { timeoutMs: number; threads?: number }): SpecValidator {
  const idle: Worker[] = [];
  const waiting: Array<() => void> = [];
  let live = 0;
  const wake = () => waiting.shift()?.();

  /** An idle thread, a new one while the pool is not full, or the next one freed. */
  const acquire = async (): Promise<Worker> => {
    for (;;) {
      const worker = idle.pop();
      if (worker) return worker;
      if (live < threads) {
        live++;
        try {
          return await startThread();
        } catch (error) {
          live--;
          wake();
          throw error;
        }
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };
  const release = (worker: Worker) => {
    idle.push(worker);
    wake();
  };
  const discard = (worker: Worker) => {
    void worker.terminate();
    live--;
    wake();
  };

  return {
    async validate(type, format, data) {
      const worker = await acquire();
      worker.postMessage({ type, format, data } satisfies ValidationRequest);
      const outcome = await next(worker, timeoutMs);
      if (outcome === 'timeout') {
        discard(worker);
        return { ok: false, message: `spec validation took longer than ${timeoutMs / 1000} s` };
      }
      if ('failure' in outcome) {
        discard(worker);
        if (outcome.failure.code === 'ERR_WORKER_OUT_OF_MEMORY') return { ok: false, message: `spec validation needed more than ${VALIDATION_HEAP_MB} MiB of memory` };
        throw new ValidationThreadFailed(`the spec validation thread failed: ${outcome.failure.message}`);
      }
      release(worker);
      const answer = outcome.message as { verdict?: SpecVerdict; error?: string };
      if (answer.verdict) return answer.verdict;
      throw new Error(answer.error ?? 'spec validation answered nothing');
    },
  };
}
