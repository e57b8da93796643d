import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { adminRequest, untilFinished } from '../client/admin.js';
import type { LocalStack } from '../dev/local-stack.js';
import { startRuntimeHost } from '../runtime/host.js';
import { percentile, summary } from './stats.js';

export async function api(url: string, token: string, method: string, urlPath: string, body?: unknown) {
  const res = await adminRequest(url, token, method, urlPath, body);
  if (res.status >= 400) throw new Error(`${method} ${urlPath}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export const untilDone = (url: string, token: string, operationId: string, timeoutMs?: number) => untilFinished(url, token, operationId, { timeoutMs });

/** Time from POST /v1/runtimes to the operation SUCCEEDED (runtime CONNECTED), local provider, sequentially. */
export async function localProvisioning(stack: LocalStack, runs = 10): Promise<void> {
  const durations: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const created = await api(stack.url, stack.adminToken!, 'POST', '/v1/runtimes', { name: `bench-local-${i}`, provider: 'local' });
    const op = await untilDone(stack.url, stack.adminToken!, created.operation.id);
    if (op.state !== 'SUCCEEDED') throw new Error(`provisioning failed: ${op.message}`);
    durations.push(performance.now() - started);
    await untilDone(stack.url, stack.adminToken!, (await api(stack.url, stack.adminToken!, 'DELETE', `/v1/runtimes/${created.runtime.id}`)).id);
  }
  console.log('runtime provisioning with the local provider (new process, key + certificate, first CONNECTED report), sequential');
  console.log(`  time to CONNECTED    ${summary(durations)}\n`);
}

const BATCH = 25;

/**
 * Simulated runtimes polling every 30 s, hosted by an instrumented runtime host in this process: for
 * each count, create them, let them poll for two intervals, and measure how late each poll was.
 */
export async function simulatedScale(stack: LocalStack, dataDir: string, counts: number[], observeMs = 75_000): Promise<void> {
  const connection = await NativeConnection.connect({ address: stack.env.TEMPORAL_ADDRESS! });
  const host = await startRuntimeHost({ connection, namespace: 'default', root: path.join(dataDir, 'simulated') });
  const syncs = new Map<string, number[]>();
  const sync = host.activities.syncConfiguration;
  host.activities.syncConfiguration = async (input) => {
    (syncs.get(input.runtimeId) ?? syncs.set(input.runtimeId, []).get(input.runtimeId)!).push(Date.now());
    return sync(input);
  };
  console.log('simulated runtimes on one runtime host, 30 s poll interval (lag = how much later than 30 s each poll came)');
  let created = 0;
  try {
    for (const count of counts) {
      const started = performance.now();
      // Rolled out in batches, as an operator would: all at once overloads a 2-core machine's provisioning.
      while (created < count) {
        const ops: string[] = [];
        for (const end = Math.min(count, created + BATCH); created < end; created++) {
          ops.push((await api(stack.url, stack.adminToken!, 'POST', '/v1/runtimes', { name: `bench-sim-${created}`, provider: 'simulated', pollIntervalSeconds: 30 })).operation.id);
        }
        for (const id of ops) {
          const op = await untilDone(stack.url, stack.adminToken!, id, 600_000);
          if (op.state !== 'SUCCEEDED') throw new Error(`provisioning failed: ${op.message}`);
        }
      }
      const provisionedIn = (performance.now() - started) / 1000;
      syncs.clear();
      await new Promise((resolve) => setTimeout(resolve, observeMs));
      const lags = [...syncs.values()].flatMap((times) => times.slice(1).map((t, i) => Math.max(0, t - times[i]! - 30_000)));
      const sorted = lags.sort((a, b) => a - b);
      console.log(
        `  ${String(count).padStart(5)} runtimes  provisioned in ${provisionedIn.toFixed(0)} s; polls observed ${lags.length}; lag ${summary(lags)}; p99 ${percentile(sorted, 99).toFixed(0)} ms`,
      );
    }
  } finally {
    await host.stop();
    await connection.close();
  }
  console.log('');
}
