import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MtlsClient, connect } from '../client/connector.js';
import { api, untilDone } from './runtimes.js';
import type { Target } from './servers.js';
import { latency, type Result } from './stats.js';

/**
 * Time from `PUT …/credentials` (answered 200) to the first call through the runtime gateway that
 * reaches the application's API with the new credentials: the application pairs, registers an API on a
 * local server, a local runtime connects, then `runs` times a new bearer token is set while the gateway
 * is called every 25 ms. `jitterMs`: a random pause before each change, so changes fall at random
 * points of the agent's poll cycle. `settled`: awaited after that setup, before the first change.
 */
export async function credentialPropagation(
  stack: Pick<Target, 'url' | 'adminToken'>,
  label: string,
  pollIntervalSeconds: number,
  runs = 50,
  jitterMs = 0,
  settled?: () => Promise<void>,
): Promise<Result> {
  const seen = new Set<string>();
  const target = http.createServer((req, res) => {
    seen.add(req.headers.authorization ?? '');
    res.writeHead(200).end();
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const token = stack.adminToken;
  const run = `c${randomBytes(3).toString('hex')}`;
  const app = await api(stack.url, token, 'POST', '/v1/applications', { name: `${run}-app` });
  const pairing = await api(stack.url, token, 'POST', `/v1/applications/${app.id}/pairing`);
  const client = new MtlsClient(await connect(pairing.connectorUrl, pairing.token));
  const runtimeId = await (async () => {
    const registered = await client.request('POST', '/v1/application/apis', { name: 'orders', targetUrl: `http://127.0.0.1:${(target.address() as AddressInfo).port}/` });
    if (registered.status !== 201) throw new Error(`API registration: HTTP ${registered.status}`);
    const created = await api(stack.url, token, 'POST', '/v1/runtimes', { name: `${run}-rt`, provider: 'local', scenarios: ['DEFAULT'], pollIntervalSeconds });
    const op = await untilDone(stack.url, token, created.operation.id);
    if (op.state !== 'SUCCEEDED') throw new Error(`provisioning failed: ${op.message}`);
    return { id: created.runtime.id as string, apiId: registered.body.id as string };
  })();
  const runtime = await api(stack.url, token, 'GET', `/v1/runtimes/${runtimeId.id}`);
  const gateway = `${runtime.eventUrl.replace(/\/events$/, '')}/gateway/${app.name}/orders/ping`;
  await settled?.();
  const durations: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      // Without hints, a PUT right after the previous change would always wait one whole interval: start at a random phase.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * jitterMs));
      const secret = randomBytes(16).toString('hex');
      const started = performance.now();
      const res = await client.request('PUT', `/v1/application/apis/${runtimeId.apiId}/credentials/${runtimeId.id}`, { bearer: { token: secret } });
      if (res.status !== 200) throw new Error(`PUT credentials: HTTP ${res.status}`);
      while (!seen.has(`Bearer ${secret}`)) {
        await fetch(gateway).then((r) => r.body?.cancel());
        if (performance.now() - started > (pollIntervalSeconds + 30) * 1000) throw new Error('the new credentials never arrived');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      durations.push(performance.now() - started);
    }
  } finally {
    client.close();
    target.close();
    // Until deleted, which stops the runtime's process: the cluster does not stop local runtimes when it stops.
    await api(stack.url, token, 'DELETE', `/v1/runtimes/${runtimeId.id}`)
      .then((op) => untilDone(stack.url, token, op.id))
      .catch(() => undefined);
  }
  return {
    title: `credentials set → first gateway call carrying them (${runs} runs, agent poll interval ${pollIntervalSeconds} s, ${label})`,
    figures: latency('propagation', durations),
  };
}
