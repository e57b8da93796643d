// The whole story of docs/architecture.md against a running Meridian, step by step, each one verified: pairing,
// API and event registration, a local runtime provisioned and connected, the application told,
// credentials set and applied, an authenticated call through the runtime gateway, the application's
// configuration pull and an event, and the runtime's removal.
/* eslint-disable @typescript-eslint/no-explicit-any -- answers of the API are JSON shaped by docs/api.md */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { adminRequest, untilFinished } from '../client/admin.js';
import { MtlsClient, connect } from '../client/connector.js';
import { modulePath } from '../lib/modules.js';

export interface StoryOptions {
  /** Public API of Meridian. */
  url: string;
  adminToken: string;
  /** Temporal UI base, for links. */
  ui: string;
  namespace?: string;
  /** Leave what the story created in place. */
  keep?: boolean;
  print?: (line: string) => void;
}

export interface StepResult {
  step: number;
  title: string;
  ms: number;
}

/** Thrown by a step whose check failed; names the step. */
export class StepFailed extends Error {
  override name = 'StepFailed';
}

const OPENAPI = JSON.stringify({
  openapi: '3.0.3',
  info: { title: 'Orders', version: '1.0.0' },
  paths: { '/orders': { get: { summary: 'List orders', responses: { '200': { description: 'The orders' } } } } },
});
const ASYNCAPI = JSON.stringify({
  asyncapi: '2.6.0',
  info: { title: 'Order events', version: '1.0.0' },
  channels: { 'order/created': { subscribe: { message: { payload: { type: 'object', properties: { id: { type: 'integer' } } } } } } },
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SAMPLE_APP = modulePath('./sample-app', import.meta.url);

/** Polls `probe` until it returns a value, or fails with `what` after `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; await sleep(200)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new StepFailed(`${what} (waited ${timeoutMs / 1000} s)`);
  }
}

async function startSampleApp(webhookSecret: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SAMPLE_APP], {
    env: { ...process.env, DEMO_WEBHOOK_SECRET: webhookSecret },
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: path.dirname(path.dirname(SAMPLE_APP)),
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { url: string }).url));
    child.once('exit', () => reject(new StepFailed('the sample application exited')));
  });
  return { url, child };
}

/** Plays the eight steps; resolves with each step's time, or rejects with the first that failed. */
export async function playStory(options: StoryOptions): Promise<StepResult[]> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const link = (workflowId: string) => `${options.ui}/namespaces/${options.namespace ?? 'default'}/workflows/${encodeURIComponent(workflowId)}`;
  const admin = async (method: string, urlPath: string, body?: unknown): Promise<any> => {
    const res = await adminRequest(options.url, options.adminToken, method, urlPath, body);
    if (res.status >= 400) throw new StepFailed(`${method} ${urlPath}: HTTP ${res.status}: ${res.body?.detail}`);
    return res.body;
  };
  const mtlsOk = (res: { status: number; body: any }, what: string) => {
    if (res.status >= 400) throw new StepFailed(`${what}: HTTP ${res.status}: ${res.body?.detail}`);
    return res.body;
  };

  const run = randomBytes(3).toString('hex');
  const webhookSecret = randomBytes(24).toString('base64url');
  const sample = await startSampleApp(webhookSecret);
  const sampleLog = async (): Promise<{ webhooks: any[]; requests: any[] }> => (await fetch(`${sample.url}/_demo/log`)).json() as Promise<any>;
  const results: StepResult[] = [];
  const started = Date.now();
  let client: MtlsClient | undefined;
  const created: { appId?: string; runtimeId?: string; scenario?: string } = {};

  /**
   * The sample application's webhook of `type` for the runtime, once it arrived; a delivery that ended
   * FAILED (e.g. refused: loopback without MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true) ends the wait with its reason.
   */
  const webhookArrived = (type: string, runtimeId: string) =>
    until(`${type} at the sample application`, async () => {
      const hook = (await sampleLog()).webhooks.find((w) => w.type === type && w.runtime.id === runtimeId);
      if (hook) return hook;
      const failed = (await admin('GET', `/v1/applications/${created.appId}/deliveries`)).items.find((d: any) => d.eventType === type && d.state === 'FAILED');
      if (failed) throw new StepFailed(`the ${type} delivery FAILED: ${failed.lastError}`);
      return undefined;
    });

  const step = async (n: number, title: string, body: () => Promise<string[]>) => {
    print(`\n[${n}/8] ${title}`);
    const t0 = Date.now();
    let lines: string[];
    try {
      lines = await body();
    } catch (error) {
      throw new StepFailed(`step ${n} (${title}) failed: ${(error as Error).message}`);
    }
    const ms = Date.now() - t0;
    for (const line of lines) print(`      ${line}`);
    print(`      ✔ verified in ${(ms / 1000).toFixed(1)} s (at ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    results.push({ step: n, title, ms });
  };

  try {
    let app: any;
    await step(1, 'Create the application and pair it (token → CSR → certificate)', async () => {
      created.scenario = `demo-${run}`;
      await admin('POST', '/v1/scenarios', { name: created.scenario });
      app = await admin('POST', '/v1/applications', { name: `shop-${run}`, description: 'Demo shop', scenarios: [created.scenario] });
      created.appId = app.id;
      const pairing = await admin('POST', `/v1/applications/${app.id}/pairing`);
      client = new MtlsClient(await connect(pairing.connectorUrl, pairing.token));
      const me = mtlsOk(await client.request('GET', '/v1/application'), 'GET /v1/application');
      if (me.status.condition !== 'CONNECTED') throw new StepFailed(`the application is ${me.status.condition}, not CONNECTED`);
      mtlsOk(await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${sample.url}/webhooks`, secret: webhookSecret }), 'webhook');
      return [`application ${app.name} (${app.id}) is CONNECTED over mTLS`, `pairing workflow: ${link(`pairing:${app.id}`)}`];
    });

    let orders: any;
    await step(2, 'Register an OpenAPI API and an AsyncAPI event definition', async () => {
      // A validation slower than the API's wait answers 202 with the spec PENDING: follow it to its end.
      const validated = async (path: string, answer: any) =>
        answer.spec?.status !== 'PENDING'
          ? answer
          : until(`${answer.name}: spec validated`, async () => {
              const now = mtlsOk(await client!.request('GET', `${path}/${answer.id}`), `${answer.name}`);
              return now.spec?.status === 'PENDING' ? undefined : now;
            });
      orders = await validated(
        '/v1/application/apis',
        mtlsOk(
          await client!.request('POST', '/v1/application/apis', { name: 'orders', targetUrl: `${sample.url}/api`, spec: { type: 'OPENAPI', format: 'JSON', data: OPENAPI } }),
          'API registration',
        ),
      );
      const event = await validated(
        '/v1/application/events',
        mtlsOk(await client!.request('POST', '/v1/application/events', { name: 'order-created', spec: { type: 'ASYNCAPI', format: 'JSON', data: ASYNCAPI } }), 'event registration'),
      );
      for (const d of [orders, event]) if (d.spec?.status !== 'SUCCEEDED') throw new StepFailed(`${d.name}: spec ${d.spec?.status ?? 'missing'} ${d.spec?.message ?? ''}`);
      return [
        `API orders: spec ${orders.spec.type} ${orders.spec.status} — ${link(`api-registration:${orders.id}`)}`,
        `event order-created: spec ${event.spec.type} ${event.spec.status} — ${link(`api-registration:${event.id}`)}`,
      ];
    });

    let runtime: any;
    await step(3, 'Create a runtime (local provider) and follow its provisioning', async () => {
      const answer = await admin('POST', '/v1/runtimes', { name: `edge-${run}`, provider: 'local', scenarios: [created.scenario], pollIntervalSeconds: 30 });
      created.runtimeId = answer.runtime.id;
      const lines = [`provisioning: ${link(`provisioning:${answer.runtime.id}`)}`];
      const op = await untilFinished(options.url, options.adminToken, answer.operation.id, { intervalMs: 200, onStage: (stage) => print(`      … ${stage}`) });
      if (op.state !== 'SUCCEEDED') throw new StepFailed(`provisioning ${op.state}: ${op.message}`);
      runtime = await admin('GET', `/v1/runtimes/${answer.runtime.id}`);
      if (runtime.status.condition !== 'CONNECTED') throw new StepFailed(`the runtime is ${runtime.status.condition}`);
      return [...lines, `runtime ${runtime.name} is CONNECTED; eventUrl ${runtime.eventUrl}`, `agent: ${link(`agent:${runtime.id}`)}`];
    });

    await step(4, 'The application receives runtime.connected (signed webhook)', async () => {
      const hook = await webhookArrived('runtime.connected', runtime.id);
      if (hook.runtime.eventUrl !== runtime.eventUrl) throw new StepFailed(`the webhook names eventUrl ${hook.runtime.eventUrl}`);
      return [`runtime.connected for ${runtime.id}, signature verified, eventUrl ${hook.runtime.eventUrl}`, `delivery: ${link(`notify:${app.id}:runtime.connected:${runtime.id}`)}`];
    });

    const gateway = `${runtime.eventUrl.replace(/\/events$/, '')}`;
    let appliedVersion = 0;
    await step(5, 'The application sets credentials for the runtime; the runtime applies them', async () => {
      const pending = mtlsOk(await client!.request('GET', '/v1/application/credentials?status=PENDING'), 'credential slots').items;
      if (!pending.some((s: any) => s.apiId === orders.id && s.runtimeId === runtime.id)) throw new StepFailed('no PENDING slot for (orders, runtime)');
      const password = randomBytes(18).toString('base64url');
      const authorization = `Basic ${Buffer.from(`edge-${run}:${password}`).toString('base64')}`;
      await fetch(`${sample.url}/_demo/credentials`, { method: 'PUT', body: JSON.stringify({ authorization }) });
      const before = (await (await fetch(`${gateway}/applied`)).json()) as { configVersion: number };
      mtlsOk(await client!.request('PUT', `/v1/application/apis/${orders.id}/credentials/${runtime.id}`, { basic: { username: `edge-${run}`, password } }), 'PUT credentials');
      const applied = await until('the runtime to apply the credentials', async () => {
        const now = (await (await fetch(`${gateway}/applied`)).json()) as { configVersion: number; applications: any[] };
        const api = now.applications.find((a) => a.id === app.id)?.apis.find((x: any) => x.id === orders.id);
        return now.configVersion > before.configVersion && api?.credentials.includes('basic') ? now : undefined;
      });
      appliedVersion = applied.configVersion;
      return [`slot PENDING → SUCCEEDED (basic credentials generated by the application)`, `runtime applied configVersion ${before.configVersion} → ${appliedVersion}`];
    });

    await step(6, "Call the application's API through the runtime gateway", async () => {
      const res = await fetch(`${gateway}/gateway/${app.name}/orders/orders`);
      if (res.status !== 200) throw new StepFailed(`the gateway answered HTTP ${res.status}: ${await res.text()}`);
      const arrived = (await sampleLog()).requests.at(-1);
      if (!arrived?.authorized || arrived.scheme !== 'Basic') throw new StepFailed('the request reached the API without the credentials');
      return [`GET ${gateway}/gateway/${app.name}/orders/orders → 200`, `the API saw ${arrived.method} ${arrived.path} with its Basic credentials`];
    });

    await step(7, 'The application pulls its configuration and sends an event to the runtime', async () => {
      const config = mtlsOk(await client!.request('GET', '/v1/application/configuration'), 'configuration');
      const seen = config.runtimes.find((r: any) => r.id === runtime.id);
      if (!seen || seen.status !== 'CONNECTED' || seen.eventUrl !== runtime.eventUrl) throw new StepFailed('the runtime is missing from the configuration');
      const res = await fetch(`${seen.eventUrl}/${app.name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 1 }) });
      if (res.status !== 202) throw new StepFailed(`the runtime answered the event with HTTP ${res.status}`);
      return [`configVersion ${config.configVersion}: ${seen.name} ${seen.status}, eventUrl ${seen.eventUrl}`, `POST ${seen.eventUrl}/${app.name} → 202 accepted`];
    });

    await step(8, 'Delete the runtime; the application receives runtime.removed', async () => {
      const op = await admin('DELETE', `/v1/runtimes/${runtime.id}`);
      const done = await untilFinished(options.url, options.adminToken, op.id, { timeoutMs: 60_000, intervalMs: 200 });
      if (done.state !== 'SUCCEEDED') throw new StepFailed(`deprovisioning ${done.state}: ${done.message}`);
      created.runtimeId = undefined;
      await webhookArrived('runtime.removed', runtime.id);
      return [`deprovisioning: ${link(`deprovisioning:${runtime.id}`)}`, `runtime.removed delivered to the application`];
    });
    print(`\nAll 8 steps verified in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    return results;
  } finally {
    client?.close();
    sample.child.kill('SIGTERM');
    if (!options.keep) {
      if (created.runtimeId) await admin('DELETE', `/v1/runtimes/${created.runtimeId}`).catch(() => undefined);
      if (created.appId) await admin('DELETE', `/v1/applications/${created.appId}`).catch(() => undefined);
      if (created.scenario) await admin('DELETE', `/v1/scenarios/${created.scenario}`).catch(() => undefined);
    } else {
      print(`(kept: application ${created.appId ?? '-'}, scenario ${created.scenario ?? '-'})`);
    }
  }
}
