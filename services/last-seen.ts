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
 * runtimes polling cost one statement per interval, not a thousand. A flush that fails because PostgreSQL
 * is away keeps its times for the next; one refused for another reason is logged and dropped.
 */
export class LastSeen {
  private pending = new Map<string, Date>();
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    flushMs = LAST_SEEN_FLUSH_MS,
  ) {
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
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await markSeen(this.pool, batch);
    } catch (error) {
      if (!isConnectionError(error)) {
        this.logger.error({ err: error, runtimes: batch.size }, 'could not record when runtimes were last seen; dropped');
        return;
      }
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
