import type { Injection } from '../../runtime/files.js';

export interface RuntimeRef {
  runtimeId: string;
  tenantId: string;
}

/**
 * Where and how runtimes live. Small on purpose (docs/architecture.md, Runtime providers): a Kubernetes provider
 * implements these four and nothing in the workflows changes. Every method is idempotent.
 */
export interface RuntimeProvider {
  /** Task queue of the runtime's agent workflow. */
  taskQueue(runtimeId: string): string;
  /** Creates (or re-adopts) the runtime; `heartbeat` keeps a long provisioning alive. */
  provision(runtime: RuntimeRef, heartbeat: () => void): Promise<void>;
  /** Hands the runtime its connection settings and one-time token. */
  inject(runtime: RuntimeRef, injection: Injection): Promise<void>;
  status(runtime: RuntimeRef): Promise<'RUNNING' | 'STOPPED'>;
  /** Stops the runtime and removes what it left; a missing runtime is already deprovisioned. */
  deprovision(runtime: RuntimeRef): Promise<void>;
}
