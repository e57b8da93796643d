// When each runtime last called Meridian, kept without a database write per call.
import type pg from 'pg';
import { markSeen } from '../db/runtimes.js';
import type { Logger } from '../lib/logger.js';

/** How often an API process writes the runtimes it heard from. @default 15 s */
export const LAST_SEEN_FLUSH_MS = 15_000;

/**
 * The runtimes whose calls this API process answered since its last flush; every
 * {@link LAST_SEEN_FLUSH_MS} one UPDATE sets their `last_seen_at`. A thousand runtimes polling cost one
 * statement per interval, not a thousand. A flush that fails (PostgreSQL away) keeps its ids for the next.
 */
export class LastSeen {
  private pending = new Set<string>();
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
    this.pending.add(runtimeId);
  }

  /** Writes what was seen since the last flush. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const ids = [...this.pending];
    this.pending = new Set();
    try {
      await markSeen(this.pool, ids);
    } catch (error) {
      for (const id of ids) this.pending.add(id);
      this.logger.warn({ err: error, runtimes: ids.length }, 'could not record when runtimes were last seen; kept for the next flush');
    }
  }

  /** Stops flushing after one last flush. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
