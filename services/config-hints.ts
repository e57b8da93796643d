// Background job of the API process: runtime configuration changes → agent hints.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { listenForConfigChanges, type ConfigChannelListener } from '../db/config-channel.js';
import type { Logger } from '../lib/logger.js';
import { configChanged } from '../workflows/agent.js';
import { workflowId } from '../workflows/ids.js';

const RECONNECT_MS = 1_000;
const BATCH = 50;

/**
 * Configuration hints (docs/architecture.md, flow 6): listens for new runtime configVersions and sends each
 * runtime's agent a `configChanged` signal, so it fetches at once. A lost hint (listener reconnecting,
 * agent gone) costs at most one poll interval: polling stays the safety net.
 */
export class ConfigHints {
  private listener?: ConfigChannelListener;
  private stopped = false;
  private readonly pending = new Set<string>();
  private flushing?: Promise<void>;
  private generation = 0;
  private reconnecting = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly temporal: Client,
    private readonly logger: Logger,
  ) {}

  static async start(pool: pg.Pool, temporal: Client, logger: Logger): Promise<ConfigHints> {
    const hints = new ConfigHints(pool, temporal, logger);
    await hints.listen();
    return hints;
  }

  /** Listens on a new connection. Only the newest connection's loss reconnects; one reconnect is pending at most. */
  private async listen(): Promise<void> {
    const generation = ++this.generation;
    const listener = await listenForConfigChanges(
      this.pool,
      (runtimeId) => this.hint(runtimeId),
      (error) => {
        if (generation !== this.generation) return;
        this.logger.warn({ err: error.message }, 'configuration hint listener lost its connection; reconnecting');
        this.reconnect();
      },
    );
    if (this.stopped) {
      await listener.end();
      return;
    }
    this.listener = listener;
  }

  private reconnect(): void {
    if (this.stopped || this.reconnecting) return;
    this.reconnecting = true;
    setTimeout(() => {
      this.reconnecting = false;
      void this.listen().catch((error: unknown) => {
        this.logger.warn({ err: (error as Error).message }, 'configuration hint listener could not reconnect; retrying');
        this.reconnect();
      });
    }, RECONNECT_MS).unref();
  }

  private hint(runtimeId: string): void {
    this.pending.add(runtimeId);
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  /** Signals the pending agents, a batch at a time; hints arriving meanwhile join the next batch. */
  private async flush(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.size > 0 && !this.stopped) {
      const batch = [...this.pending].slice(0, BATCH);
      batch.forEach((id) => this.pending.delete(id));
      await Promise.all(
        batch.map((id) =>
          this.temporal.workflow
            .getHandle(workflowId.agent(id))
            .signal(configChanged)
            .catch((error: unknown) => {
              if (!(error instanceof WorkflowNotFoundError)) this.logger.warn({ runtimeId: id, err: (error as Error).message }, 'configuration hint not delivered');
            }),
        ),
      );
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.flushing;
    await this.listener?.end();
  }
}
