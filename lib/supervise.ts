// Keeps a Temporal worker running for the life of a process.
//
// The SDK's worker rides out a Temporal server that goes away and comes back by itself: its task
// polls retry UNAVAILABLE without limit (sdk-core `task_poll_retry_policy`), so a 20 s outage only
// delays work. It fails for good when a poll keeps meeting an error it does not retry for 60 s
// (`LONG_POLL_FATAL_GRACE`: the namespace is gone, permission denied, …) or on an internal error; its
// `run()` then rejects — or, depending on a race in the SDK, never settles while the worker reports
// FAILED. `Worker.create` fails while the server is unreachable. All of these mean here: log, wait
// (backoff), create the worker again.
import type { Worker } from '@temporalio/worker';
import { Backoff } from './backoff.js';
import type { Logger } from './logger.js';

export interface SupervisedWorker {
  /** Resolves once a worker runs for the first time (or the supervisor was stopped before). */
  readonly started: Promise<void>;
  /** Resolves when the worker has stopped for good: after {@link stop}, or a shutdown signal the SDK handled. */
  readonly done: Promise<void>;
  /** The worker running now, if any. */
  readonly current: Worker | undefined;
  /** Shuts the current worker down (no new one is created) and waits until it has stopped. */
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  /** What runs, for the log lines. */
  name: string;
  logger: Logger;
  /** Creates the worker (and, when needed, its connection); called again after each failure. */
  create: () => Promise<Worker>;
  /** Backoff between attempts: from `minDelayMs`, doubling up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** A worker that ran this long before failing starts the backoff over. */
  stableMs?: number;
}

/** How often the worker's state is looked at, see {@link untilFailed}. */
const STATE_CHECK_MS = 1_000;

/**
 * Settles with `running` (the worker's `run()`), or rejects once the worker has been FAILED for a
 * moment without `run()` settling: the SDK can mark a worker FAILED and then hang finalizing its
 * native half (seen with a namespace that disappeared), so `run()` alone is not a reliable signal.
 */
async function untilFailed(worker: Worker, running: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const failed = new Promise<never>((_resolve, reject) => {
    let seen = 0;
    timer = setInterval(() => {
      seen = worker.getState() === 'FAILED' ? seen + 1 : 0;
      if (seen >= 2) reject(new Error('the worker failed and did not finish shutting down'));
    }, STATE_CHECK_MS);
    timer.unref();
  });
  // Whatever the hung run() does later, it is observed.
  running.catch(() => undefined);
  try {
    await Promise.race([running, failed]);
  } finally {
    clearInterval(timer);
  }
}

export function superviseWorker({ name, logger, create, minDelayMs = 1_000, maxDelayMs = 30_000, stableMs = 60_000 }: SuperviseOptions): SupervisedWorker {
  let stopping = false;
  let current: Worker | undefined;
  let markStarted = () => undefined as void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const backoff = new Backoff({ initialMs: minDelayMs, maxMs: maxDelayMs, healthyAfterMs: stableMs });

  const loop = async () => {
    for (let attempt = 1; !stopping; attempt++) {
      let worker: Worker | undefined;
      let runningSince: number | undefined;
      try {
        worker = await create();
        current = worker;
        const running = worker.run();
        runningSince = Date.now();
        if (stopping) worker.shutdown();
        else {
          if (attempt > 1) logger.info({ worker: name, attempt }, 'Temporal worker running again');
          markStarted();
        }
        // Resolves only once the worker was shut down (stop(), or SIGINT/SIGTERM through the SDK).
        await untilFailed(worker, running);
        return;
      } catch (error) {
        current = undefined;
        if (stopping) return;
        const delay = backoff.next(runningSince);
        const what = worker ? 'Temporal worker failed' : 'Temporal worker could not start';
        logger.error({ worker: name, attempt, retryInMs: delay, err: error }, `${what}; starting it again after a pause`);
        await backoff.wait();
      }
    }
  };
  const done = loop().finally(() => {
    current = undefined;
    markStarted();
  });

  return {
    started,
    done,
    get current() {
      return current;
    },
    async stop() {
      stopping = true;
      backoff.stop();
      // The SDK shuts its workers down on SIGINT/SIGTERM itself; a second shutdown would throw.
      if (current?.getState() === 'RUNNING') current.shutdown();
      await done;
    },
  };
}
