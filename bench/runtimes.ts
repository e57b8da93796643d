import { adminRequest, untilFinished } from '../client/admin.js';
import type { Target } from './servers.js';
import { latency, type Figure, type Result } from './stats.js';

export async function api(url: string, token: string, method: string, urlPath: string, body?: unknown) {
  const res = await adminRequest(url, token, method, urlPath, body);
  if (res.status >= 400) throw new Error(`${method} ${urlPath}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export const untilDone = (url: string, token: string, operationId: string, timeoutMs?: number) => untilFinished(url, token, operationId, { timeoutMs });

/** Time from POST /v1/runtimes to the operation SUCCEEDED (runtime CONNECTED), local provider, sequentially. */
export async function localProvisioning({ url, adminToken }: Target, runs = 10): Promise<Result> {
  const durations: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const created = await api(url, adminToken, 'POST', '/v1/runtimes', { name: `bench-local-${i}`, provider: 'local' });
    const op = await untilDone(url, adminToken, created.operation.id);
    if (op.state !== 'SUCCEEDED') throw new Error(`provisioning failed: ${op.message}`);
    durations.push(performance.now() - started);
    await untilDone(url, adminToken, (await api(url, adminToken, 'DELETE', `/v1/runtimes/${created.runtime.id}`)).id);
  }
  return {
    title: `runtime provisioning with the local provider (new process, key + certificate, first CONNECTED report), sequential, ${runs} runs`,
    figures: latency('time to CONNECTED', durations),
  };
}

const BATCH = 25;

/**
 * Simulated runtimes polling every 30 s, all on one runtime host: for each count, create them, let
 * them poll for two intervals, and measure how late each poll was (the target's {@link Target.watchPolls}
 * notes when each poll came).
 */
export async function simulatedScale(target: Target, counts: number[], observeMs = 75_000): Promise<Result> {
  const { url, adminToken } = target;
  const watch = await target.watchPolls();
  const figures: Figure[] = [];
  let created = 0;
  try {
    for (const count of counts) {
      const started = performance.now();
      // Rolled out in batches, as an operator would: all at once overloads a 2-core machine's provisioning.
      while (created < count) {
        const ops: string[] = [];
        for (const end = Math.min(count, created + BATCH); created < end; created++) {
          ops.push((await api(url, adminToken, 'POST', '/v1/runtimes', { name: `bench-sim-${created}`, provider: 'simulated', pollIntervalSeconds: 30 })).operation.id);
        }
        for (const id of ops) {
          const op = await untilDone(url, adminToken, id, 600_000);
          if (op.state !== 'SUCCEEDED') throw new Error(`provisioning failed: ${op.message}`);
        }
      }
      const provisionedIn = (performance.now() - started) / 1000;
      watch.clear();
      await new Promise((resolve) => setTimeout(resolve, observeMs));
      const lags = [...watch.polls().values()].flatMap((times) => times.slice(1).map((t, i) => Math.max(0, t - times[i]! - 30_000)));
      figures.push(
        { label: `${count} runtimes: provisioned in`, value: provisionedIn, unit: 's' },
        { label: `${count} runtimes: polls observed`, value: lags.length, unit: '' },
        ...latency(`${count} runtimes: lag`, lags, [50, 95, 99]),
      );
    }
  } finally {
    await watch.stop();
  }
  return { title: 'simulated runtimes on one runtime host, 30 s poll interval (lag = how much later than 30 s each poll came)', figures };
}
