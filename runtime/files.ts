// The runtime side's files: one directory per runtime, written by the providers (what they inject,
// how a local runtime starts) and by the runtime itself (credentials, applied configuration, gateway).
import fs from 'node:fs';
import path from 'node:path';
import type { Config, OutboundConfig } from '../lib/config.js';

/** What the provider injects into a runtime: where to connect, and the one-time token (read once, then deleted). */
export interface Injection {
  runtimeId: string;
  tenantId: string;
  connectorUrl: string;
  token?: string;
}

/** How a local runtime process starts (`runtime.json`, written by the local provider). */
export interface LocalRuntimeConfig {
  runtimeId: string;
  /** Where its agent worker connects, with the worker's mTLS files when Temporal requires them. */
  temporal: Pick<Config['temporal'], 'address' | 'namespace' | 'tls'>;
  taskQueue: string;
  /** Whether its gateway may call private addresses (MERIDIAN_OUTBOUND_ALLOW_PRIVATE); refused when absent. */
  outbound?: OutboundConfig;
}

/** Where a local runtime's gateway listens, and which process serves it (`gateway.json`). */
export interface GatewayFile {
  url: string;
  pid: number;
}

/** The files of one runtime, in its directory under `root`. */
export const runtimeFiles = (root: string, runtimeId: string) => {
  const dir = path.join(root, runtimeId);
  return {
    dir,
    /** {@link Injection}; the token is replaced by the signing request once used. */
    injected: path.join(dir, 'injected.json'),
    credentials: path.join(dir, 'credentials'),
    /** The key of a certificate being requested, until the certificate is in hand. */
    pendingKey: path.join(dir, 'pending.key'),
    /** The configuration the agent applied last (the gateway serves it). */
    applied: path.join(dir, 'applied.json'),
    gateway: path.join(dir, 'gateway.json'),
    /** {@link LocalRuntimeConfig} (local runtimes only). */
    config: path.join(dir, 'runtime.json'),
    /** The pid of a local runtime's process. */
    process: path.join(dir, 'process.json'),
    /** A local runtime's output. */
    log: path.join(dir, 'runtime.log'),
  };
};

export type RuntimeFiles = ReturnType<typeof runtimeFiles>;

/** Replaces a file atomically: readers see the old or the new content, never half of it. */
export function writeAtomically(file: string, content: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode });
  fs.renameSync(tmp, file);
}

/** A JSON file's content, or undefined when it is missing or not JSON (yet). */
export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
