// `npm run screenshots`: the console's pictures in docs/console/, taken in headless Chromium from a
// stack started here in a temporary folder and filled like a small real tenant: 20 applications (8 of
// them paired, with APIs, events, webhooks and credentials) and 50 simulated runtimes in four scenarios.
// Then a 51st runtime is created and its page shot while it provisions.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Page } from 'playwright-core';
import { adminRequest } from '../client/admin.js';
import { MtlsClient, connect } from '../client/connector.js';
import { LocalStack, stackEnv } from '../dev/local-stack.js';
import { ensureChromium } from '../dev/tools.js';
import { PROJECT_ROOT } from '../lib/modules.js';

const OUT = path.join(PROJECT_ROOT, 'docs', 'console');
const SCENARIOS = ['orders', 'billing', 'logistics', 'analytics'];
const APPLICATIONS = ['crm', 'erp', 'webshop', 'payments', 'invoicing', 'warehouse', 'shipping', 'catalog', 'pricing', 'loyalty', 'support', 'hr', 'payroll', 'marketing', 'reporting', 'forecast', 'fleet', 'returns', 'tax', 'audit'];
const PAIRED = 8;
const RUNTIMES = 50;
const SPEC = JSON.stringify({ openapi: '3.0.3', info: { title: 'orders', version: '1.0.0' }, paths: { '/orders': { get: { responses: { 200: { description: 'ok' } } } } } });

/** Fails loudly: the pictures must show what they say. */
function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new Error(what);
}

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 300_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    check(Date.now() - started < timeoutMs, `${what}: not within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

/** A webhook receiver on loopback: most applications acknowledge, `shipping` answers 503 (its deliveries retry). */
async function receiver(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(req.url?.includes('shipping') ? 503 : 204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

async function seed(stack: LocalStack, token: string, hooks: string) {
  const admin = async (method: string, urlPath: string, body?: unknown) => {
    const res = await adminRequest(stack.url, token, method, urlPath, body);
    check(res.status < 300, `${method} ${urlPath}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of the endpoint called
  };
  for (const name of SCENARIOS) await admin('POST', '/v1/scenarios', { name });
  const apps: Array<{ id: string; name: string; client?: MtlsClient; apiId?: string }> = [];
  for (const [i, name] of APPLICATIONS.entries()) {
    const scenarios = [SCENARIOS[i % SCENARIOS.length]!, ...(i % 3 === 0 ? [SCENARIOS[(i + 1) % SCENARIOS.length]!] : [])];
    apps.push(await admin('POST', '/v1/applications', { name, description: `The ${name} system`, labels: { team: ['sales', 'finance', 'ops'][i % 3], env: i % 4 === 0 ? 'staging' : 'prod' }, scenarios }));
  }
  // Paired applications register an API and an event, subscribe to changes and set some credentials.
  for (const app of apps.slice(0, PAIRED)) {
    const pairing = await admin('POST', `/v1/applications/${app.id}/pairing`);
    const client = new MtlsClient(await connect(pairing.connectorUrl, pairing.token));
    const api = await client.request('POST', '/v1/application/apis', { name: `${app.name}-api`, targetUrl: `https://${app.name}.example.com/api`, spec: { type: 'OPENAPI', format: 'JSON', data: SPEC } });
    // 202: its validation outlasted the wait; it finishes in the background.
    check(api.status === 201 || api.status === 202, `registering ${app.name}'s API: ${api.status}`);
    await client.request('POST', '/v1/application/events', { name: `${app.name}.changed` });
    await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${hooks}/${app.name}` });
    app.client = client;
    app.apiId = api.body.id;
  }
  const runtimes: Array<{ id: string }> = [];
  for (let i = 0; i < RUNTIMES; i++) {
    const region = ['eu-west', 'eu-central', 'us-east', 'ap-south'][i % 4]!;
    const created = await admin('POST', '/v1/runtimes', {
      name: `${region}-${String(i + 1).padStart(2, '0')}`,
      provider: 'simulated',
      labels: { region },
      scenarios: [SCENARIOS[i % SCENARIOS.length]!, ...(i % 5 === 0 ? ['DEFAULT'] : [])],
    });
    runtimes.push(created.runtime);
  }
  console.log(`seeded ${apps.length} applications and ${runtimes.length} runtimes; waiting until every runtime is CONNECTED …`);
  await until('50 runtimes CONNECTED', async () => {
    const overview = await admin('GET', '/v1/overview');
    process.stdout.write(`\r  ${overview.runtimes.CONNECTED ?? 0} / ${RUNTIMES} connected`);
    return (overview.runtimes.CONNECTED ?? 0) >= RUNTIMES ? overview : undefined;
  }, 600_000);
  process.stdout.write('\n');
  // Half of the open slots filled: the overview shows the rest PENDING.
  for (const app of apps.slice(0, PAIRED)) {
    const slots = (await app.client!.request('GET', '/v1/application/credentials?status=PENDING&limit=100')).body.items as Array<{ runtimeId: string }>;
    for (const slot of slots.filter((_, i) => i % 2 === 0)) {
      await app.client!.request('PUT', `/v1/application/apis/${app.apiId}/credentials/${slot.runtimeId}`, { bearer: { token: `token-for-${slot.runtimeId.slice(0, 8)}` } });
    }
    app.client!.close();
  }
  return apps;
}

async function shoot(page: Page, file: string) {
  await page.screenshot({ path: path.join(OUT, file), fullPage: true });
  console.log(`  docs/console/${file}`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-screenshots-'));
fs.chmodSync(dir, 0o755);
const stack = new LocalStack({ ...(await stackEnv(path.join(dir, 'data'))), MERIDIAN_OUTBOUND_ALLOW_PRIVATE: 'true' });
const hooks = await receiver();
let code = 0;
try {
  console.log(`stack ready in ${((await stack.start(180_000)) / 1000).toFixed(1)} s`);
  const token = stack.adminToken!;
  const apps = await seed(stack, token, hooks.url);
  fs.mkdirSync(OUT, { recursive: true });
  const browser = await chromium.launch({ executablePath: ensureChromium(), args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${stack.url}/console/`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.getByText(`Runtimes (${RUNTIMES})`).waitFor();
  await shoot(page, 'overview.png');

  await page.goto(`${stack.url}/console/#/applications/${apps[0]!.id}`);
  await page.getByRole('heading', { name: 'Credential slots' }).waitFor();
  await page.locator('#slots ~ table tbody tr').first().waitFor();
  await page.locator('#webhooks ~ table tbody tr').first().waitFor({ timeout: 30_000 });
  await shoot(page, 'application.png');

  await page.goto(`${stack.url}/console/#/scenarios`);
  await page.locator('table.matrix tbody tr').nth(RUNTIMES + APPLICATIONS.length + 1).waitFor();
  await shoot(page, 'scenarios.png');

  const created = (await adminRequest(stack.url, token, 'POST', '/v1/runtimes', { name: 'eu-west-51', provider: 'simulated', scenarios: ['orders'] })).body as { runtime: { id: string }; operation: { id: string } };
  await page.goto(`${stack.url}/console/#/runtimes/${created.runtime.id}/${created.operation.id}`);
  // Shot while it provisions: a few stages passed, not yet finished.
  await until('a runtime half-way through provisioning', async () => {
    const stages = await page.locator('.operation .timeline strong').allTextContents();
    return stages.length >= 3 && !stages.includes('FINISHED') ? stages : undefined;
  }, 60_000);
  await shoot(page, 'runtime-provisioning.png');
  await page.locator('dd .condition', { hasText: 'CONNECTED' }).first().waitFor({ timeout: 120_000 });
  await page.locator('.operation .timeline strong', { hasText: 'FINISHED' }).waitFor();
  await shoot(page, 'runtime.png');

  await page.goto(`${stack.url}/console/#/operations`);
  await page.locator('main table tbody tr').first().waitFor();
  await shoot(page, 'operations.png');
  await browser.close();
} catch (error) {
  console.error(`\n✘ ${(error as Error).stack}`);
  code = 1;
} finally {
  hooks.close();
  await stack.interrupt();
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
