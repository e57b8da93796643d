// Background job of the API process: runtime configuration changes → held configuration requests and agent hints.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { listenForConfigChanges, type ConfigChannelListener } from '../db/config-channel.js';
import type { Logger } from '../lib/logger.js';
import { configChanged } from '../workflows/agent.js';
import { workflowId } from '../workflows/ids.js';
import type { ConfigWaiters } from './config-waiters.js';

const RECONNECT_MS = 1_000;
const BATCH = 50;

export interface ConfigHintsOptions {
  /**
   * Send each changed runtime's agent workflow a `configChanged` signal, one workflow task per runtime and
   * change. Agents that long-poll their configuration need none.
   * @default true
   */
  signalAgents?: boolean;
  /** Configuration requests held by this process: woken at each change of their runtime, and all after a reconnect. */
  waiters?: ConfigWaiters;
}

/**
 * Configuration hints (docs/architecture.md, flow 6): listens for new runtime configVersions, wakes the
 * configuration requests held for each such runtime and sends its agent a `configChanged` signal, so it
 * fetches at once. A lost hint (listener reconnecting, agent gone) costs at most one poll interval or
 * wait: polling stays the safety net.
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
    private readonly options: ConfigHintsOptions,
  ) {}

  static async start(pool: pg.Pool, temporal: Client, logger: Logger, options: ConfigHintsOptions = {}): Promise<ConfigHints> {
    const hints = new ConfigHints(pool, temporal, logger, options);
    await hints.listen();
    return hints;
  }

  /**
   * Listens on a new connection. Only the newest connection's loss reconnects; one reconnect is pending at
   * most. Changes during the gap went unheard, so a reconnect wakes every held request to read again.
   */
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
    if (generation > 1) this.options.waiters?.wakeAll();
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
    this.options.waiters?.wake(runtimeId);
    if (this.options.signalAgents === false) return;
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
