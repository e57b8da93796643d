// When each runtime last called Meridian, kept without a database write per call.
import type pg from 'pg';
import { markSeen } from '../db/runtimes.js';
import { isConnectionError } from '../db/tx.js';
import type { Logger } from '../lib/logger.js';

/** How often an API process writes the runtimes it heard from. @default 15 s */
export const LAST_SEEN_FLUSH_MS = 15_000;

/**
 * The runtimes whose calls this API process answered since its last flush, each with the time of its
 * latest call; every {@link LAST_SEEN_FLUSH_MS} one statement writes them (`runtime_last_seen`). A thousand
 * runtimes polling cost one statement per interval, not a thousand. Every flush, also one with nothing
 * seen, tells PostgreSQL that calls are being recorded (`runtime_call_recording`): runtimes only become
 * UNREACHABLE for calls missed while some API process was recording them. A flush that fails because
 * PostgreSQL is away keeps its times for the next; one refused for another reason is logged and dropped.
 */
export class LastSeen {
  private pending = new Map<string, Date>();
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  /** A gap between flushes longer than this (three intervals) means calls were not recorded meanwhile. */
  private readonly gapSeconds: number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    flushMs = LAST_SEEN_FLUSH_MS,
  ) {
    this.gapSeconds = (3 * flushMs) / 1000;
    this.timer = setInterval(() => void this.flush(), flushMs).unref();
  }

  /** The runtime called now. */
  seen(runtimeId: string): void {
    this.pending.set(runtimeId, new Date());
  }

  /** Writes what was seen since the last flush, after any flush still running. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.write());
    return this.writing;
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    try {
      await markSeen(this.pool, batch, this.gapSeconds);
    } catch (error) {
      if (!isConnectionError(error)) {
        this.logger.error({ err: error, runtimes: batch.size }, 'could not record when runtimes were last seen; dropped');
        return;
      }
      if (batch.size === 0) return;
      // Calls seen since keep their later time.
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
      this.logger.warn({ err: error, runtimes: batch.size }, 'could not record when runtimes were last seen; kept for the next flush');
    }
  }

  /** Stops flushing after one last flush. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
