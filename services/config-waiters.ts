// Requests held by the configuration long poll of this API process, woken by the configuration hint listener.

/** One request's registration for the next change of a runtime's configuration. */
export interface ConfigWatch {
  /** Resolves at the runtime's next change, after `ms`, when `signal` aborts or when the registry closes; then unregisters. */
  wait(ms: number, signal: AbortSignal): Promise<void>;
  /** Unregisters; idempotent. */
  cancel(): void;
}

/**
 * The requests of this process waiting for a runtime's next configVersion (`Prefer: wait` on
 * `GET /v1/runtime/configuration`), by runtime id. ConfigHints wakes them from the process's one LISTEN
 * connection. A woken request reads the version again, so a wake-up without a change costs one indexed read.
 */
export class ConfigWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private closed = false;
  private sleeping = 0;

  /**
   * Registers for the runtime's next change at once, before the caller checks the current version: a
   * change committed between that check and {@link ConfigWatch.wait} still wakes it.
   */
  watch(runtimeId: string): ConfigWatch {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const cancel = () => {
      const wakes = this.waiting.get(runtimeId);
      if (!wakes?.delete(wake) || wakes.size > 0) return;
      this.waiting.delete(runtimeId);
    };
    if (this.closed) wake();
    else this.waiting.set(runtimeId, (this.waiting.get(runtimeId) ?? new Set()).add(wake));
    return {
      wait: async (ms, signal) => {
        const timer = setTimeout(wake, ms);
        signal.addEventListener('abort', wake);
        if (signal.aborted) wake();
        this.sleeping++;
        try {
          await woken;
        } finally {
          this.sleeping--;
          clearTimeout(timer);
          signal.removeEventListener('abort', wake);
          cancel();
        }
      },
      cancel,
    };
  }

  /** Wakes every request waiting for this runtime. */
  wake(runtimeId: string): void {
    const wakes = this.waiting.get(runtimeId);
    this.waiting.delete(runtimeId);
    wakes?.forEach((wake) => wake());
  }

  /** Wakes every waiting request, e.g. after notifications may have been missed. */
  wakeAll(): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    all.forEach((wakes) => wakes.forEach((wake) => wake()));
  }

  /** Wakes every waiting request and holds no more (the API is stopping): later waits end at once. */
  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  /** How many requests are held in {@link ConfigWatch.wait}: their version read, unchanged, waiting for the next change. */
  get held(): number {
    return this.sleeping;
  }

  /** How many requests are registered, over all runtimes (held, or reading the current version). */
  get size(): number {
    let count = 0;
    for (const wakes of this.waiting.values()) count += wakes.size;
    return count;
  }
}
