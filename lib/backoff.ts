// Restart delays of supervisors: `npm start`'s children, and the Temporal workers.
import type { Logger } from './logger.js';

export interface BackoffOptions {
  /** First delay before a restart. @default 1000 */
  initialMs?: number;
  /** The delay doubles up to this. @default 30000 */
  maxMs?: number;
  /** A run that lasted this long was healthy: the next restart starts from `initialMs` again. @default 60000 */
  healthyAfterMs?: number;
}

/** Doubling delays with a reset after a healthy run, and a sleep that a stop cuts short. */
export class Backoff {
  private delay: number;
  private wake?: () => void;
  private stopped = false;
  private readonly initialMs: number;
  private readonly maxMs: number;
  readonly healthyAfterMs: number;

  constructor({ initialMs = 1_000, maxMs = 30_000, healthyAfterMs = 60_000 }: BackoffOptions = {}) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.healthyAfterMs = healthyAfterMs;
    this.delay = initialMs;
  }

  /** The delay the next {@link wait} will take; resets first when the run that just ended started at `runStartedAt` long enough ago. */
  next(runStartedAt?: number): number {
    if (runStartedAt !== undefined && Date.now() - runStartedAt >= this.healthyAfterMs) this.delay = this.initialMs;
    return this.delay;
  }

  /** Sleeps the current delay (unless stopped), then doubles it; resolves false once stopped. */
  async wait(): Promise<boolean> {
    if (this.stopped) return false;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, this.maxMs);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
    return !this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }
}

/** Connects to Temporal, waiting (with backoff, logged) while the frontend is not reachable yet. */
export async function whenReachable<T>(what: string, connect: () => Promise<T>, logger: Pick<Logger, 'warn'>): Promise<T> {
  const backoff = new Backoff({ maxMs: 10_000 });
  for (;;) {
    try {
      return await connect();
    } catch (error) {
      const delay = backoff.next();
      logger.warn({ err: (error as Error).message, retryInMs: delay }, `${what} not reachable; retrying in ${delay} ms`);
      if (!(await backoff.wait())) throw error;
    }
  }
}
