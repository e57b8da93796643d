// The two servers a benchmark runs against: the dev-server stack (`npm start`: Temporal dev server,
// embedded PostgreSQL, one process) and the production-shaped cluster (`npm run cluster`). Both are
// started in a temporary folder on their own ports, and removed afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { localProvider } from '../activities/providers/local.js';
import { ClusterStack } from '../dev/cluster-stack.js';
import { LocalStack, stackEnv } from '../dev/local-stack.js';
import { startRuntimeHost } from '../runtime/host.js';
import type { AgentObserver } from '../runtime/activities.js';

export const SERVERS = { dev: 'dev server', cluster: 'cluster' } as const;
export type Server = keyof typeof SERVERS;

/** What a benchmark needs of a server, whichever it is. */
export interface Target {
  /** The public (admin) API. On the cluster: replica 1, which is also the URL pairings are told to use. */
  url: string;
  adminToken: string;
  /** Meridian's data directory; simulated runtimes live under `<dataDir>/simulated`. */
  dataDir: string;
  /** Starts recording when each simulated runtime polls its configuration; see {@link PollWatch}. */
  watchPolls(): Promise<PollWatch>;
}

/** When each simulated runtime fetched its configuration (ms since the epoch), since the last `clear()`. */
export interface PollWatch {
  polls(): Map<string, number[]>;
  clear(): void;
  stop(): Promise<void>;
}

/**
 * Starts `server` with `env` added to Meridian's environment, runs `use` on it, stops it. A server
 * that does not start fails with its output.
 */
export async function withServer<T>(server: Server, env: Record<string, string>, use: (target: Target) => Promise<T>): Promise<T> {
  return server === 'dev' ? withDevServer(env, use) : withCluster(env, use);
}

async function withDevServer<T>(env: Record<string, string>, use: (target: Target) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-'));
  fs.chmodSync(dir, 0o755);
  const dataDir = path.join(dir, 'data');
  // No runtime host in the stack: the benchmark's own, instrumented one runs the simulated runtimes.
  const stack = new LocalStack({ ...(await stackEnv(dataDir)), MERIDIAN_RUNTIME_HOST: 'false', ...env });
  try {
    console.log(`${SERVERS.dev} ready in ${((await stack.start()) / 1000).toFixed(1)} s`);
    return await use({ url: stack.url, adminToken: stack.adminToken!, dataDir, watchPolls: () => instrumentedHost(stack.env, dataDir) });
  } finally {
    await stack.interrupt();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function withCluster<T>(env: Record<string, string>, use: (target: Target) => Promise<T>): Promise<T> {
  const cluster = new ClusterStack();
  const dataDir = cluster.layout.meridian;
  try {
    console.log(`${SERVERS.cluster} ready in ${((await cluster.start(env)) / 1000).toFixed(1)} s`);
    return await use({ url: cluster.api(1), adminToken: cluster.adminToken, dataDir, watchPolls: async () => accessLogPolls(cluster.layout.logs) });
  } finally {
    // Local runtimes are detached processes the cluster's workers started; a benchmark that failed may leave some.
    await localProvider({ root: path.join(dataDir, 'runtimes'), temporal: { address: '', namespace: '' } }).stopAll();
    await cluster.stop();
  }
}

/**
 * Dev server: a runtime host in this process (the stack runs none), its `syncConfiguration` activity
 * wrapped to note the time of each call.
 */
async function instrumentedHost(env: Record<string, string>, dataDir: string): Promise<PollWatch> {
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS! });
  const agentDesign = env.MERIDIAN_AGENT_DESIGN === 'poll' ? 'poll' : 'watch';
  const host = await startRuntimeHost({ connection, namespace: 'default', root: path.join(dataDir, 'simulated'), agentDesign });
  const polls = new Map<string, number[]>();
  const sync = host.activities.syncConfiguration;
  host.activities.syncConfiguration = async (input) => {
    (polls.get(input.runtimeId) ?? polls.set(input.runtimeId, []).get(input.runtimeId)!).push(Date.now());
    return sync(input);
  };
  return {
    polls: () => polls,
    clear: () => polls.clear(),
    async stop() {
      await host.stop();
      await connection.close();
    },
  };
}

/** One line of the API's access log (api/app.ts), as far as it is read here. */
interface AccessLogLine {
  msg?: string;
  time?: number;
  route?: string;
  client?: string;
}

/** A whole JSON line; undefined for anything else (a line still being written). */
function parseLine(text: string): AccessLogLine | undefined {
  try {
    return JSON.parse(text) as AccessLogLine;
  } catch {
    return undefined;
  }
}

/**
 * Cluster: its own runtime host (a process of the cluster) runs the simulated runtimes, so the polls
 * are read from the API replicas' access logs: one `GET /v1/runtime/configuration` line per poll, with
 * the runtime's id as `client`. The time is when the answer was sent (the dev server's is when the call
 * began): the same lag, give or take the variation of one request's duration.
 */
function accessLogPolls(logs: string): PollWatch {
  let since = Date.now();
  return {
    polls() {
      const polls = new Map<string, number[]>();
      for (const file of ['api-1.log', 'api-2.log'].map((name) => path.join(logs, name)).filter((file) => fs.existsSync(file))) {
        for (const text of fs.readFileSync(file, 'utf8').split('\n')) {
          if (!text.includes('/v1/runtime/configuration')) continue;
          const line = parseLine(text);
          if (!line || line.msg !== 'request' || line.route !== '/v1/runtime/configuration' || !line.client || !line.time || line.time < since) continue;
          (polls.get(line.client) ?? polls.set(line.client, []).get(line.client)!).push(line.time);
        }
      }
      for (const times of polls.values()) times.sort((a, b) => a - b);
      return polls;
    },
    clear: () => void (since = Date.now()),
    stop: async () => undefined,
  };
}

/**
 * A runtime host of the watch design in this process, for the simulated runtimes of a stack whose own host
 * is off (MERIDIAN_RUNTIME_HOST=false): every configuration answer its agents get is told to `observer`.
 */
export async function observedHost(temporalAddress: string, dataDir: string, observer: AgentObserver): Promise<{ stop(): Promise<void> }> {
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const host = await startRuntimeHost({ connection, namespace: 'default', root: path.join(dataDir, 'simulated'), agentDesign: 'watch', observer }).catch(async (error: unknown) => {
    await connection.close();
    throw error;
  });
  return {
    async stop() {
      await host.stop();
      await connection.close().catch(() => undefined);
    },
  };
}
