// The operators' console (console/, served at /console/ by api/console.ts): its HTTP surface, then in a
// real headless Chromium (Debian's package, driven by playwright-core) against the real API, worker and
// runtime host: sign in, overview, applications, a runtime reaching CONNECTED, delete, sign out, scenario
// assignments, label definitions, application templates, and an accessibility scan of each main page. Screenshots go to test-results/console/.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CONSOLE_CSP } from '../api/console.js';
import { ensureChromium } from '../dev/tools.js';
import { PROJECT_ROOT } from '../lib/modules.js';
import { call, createTenant, startTestApi, uniqueName, type TestApi } from './helpers.js';

const SCREENSHOTS = path.join(PROJECT_ROOT, 'test-results', 'console');
const XSS = '<img src=x onerror=alert(1)>';
/** How long the browser may take to show what the API already has (the console reads every 5 s; CI is busy). */
const SOON = { timeout: 15_000, interval: 100 };

let api: TestApi;
let token: string;
let browser: Browser;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
  token = (await createTenant(api.pool)).token;
  browser = await chromium.launch({ executablePath: ensureChromium(), args: ['--no-sandbox'] });
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
}, 300_000);
afterAll(async () => {
  await browser?.close();
  await api?.stop();
});

describe('the console over HTTP', () => {
  it('redirects /console to /console/ and serves the page with a strict Content-Security-Policy and no inline script', async () => {
    const bare = await fetch(`${api.url}/console`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).toEqual([301, '/console/']);
    const page = await fetch(`${api.url}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).not.toMatch(/unsafe|\*/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    // Every script is a file of this origin: none inline, none elsewhere.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(body!.trim()).toBe('');
      expect(attributes).toMatch(/src="[a-z-]+\.js"/);
    }
    expect(html).not.toMatch(/https?:\/\//);
    const script = await fetch(`${api.url}/console/console.js`);
    expect([script.status, script.headers.get('content-type')]).toEqual([200, expect.stringMatching(/javascript/)]);
  });

  it('refuses every method but GET and HEAD with 405 and Allow, as every path of the API does', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await call(`${api.url}/console/`, { method });
      expect([method, res.status, res.headers.get('allow'), res.headers.get('content-type')]).toEqual([method, 405, 'GET, HEAD, OPTIONS', expect.stringMatching(/problem\+json/)]);
    }
    const options = await call(`${api.url}/console/console.js`, { method: 'OPTIONS' });
    expect([options.status, options.headers.get('allow')]).toEqual([204, 'GET, HEAD, OPTIONS']);
    const document = (await call(`${api.url}/openapi.json`)).body;
    expect(Object.keys(document.paths['/console/'])).toEqual(['get']);
  });

  it('answers a file it does not have 404 problem+json, and is not served on the mTLS listener', async () => {
    const missing = await call(`${api.url}/console/nothing.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${api.mtlsUrl}/console/`);
      https.get({ host: url.hostname, port: url.port, path: url.pathname, ca: api.ca.certPem }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(404);
  });
});

/** A page of the console with the dialogs it opened (none expected but confirmations). */
async function open(): Promise<{ page: Page; dialogs: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void (dialog.type() === 'confirm' ? dialog.accept() : dialog.dismiss());
  });
  await page.goto(`${api.url}/console/`);
  return { page, dialogs };
}

async function submitToken(page: Page, adminToken: string) {
  await page.getByLabel('Admin token').fill(adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in and waits for the console to show (it checks the token with the API first). */
async function signIn(page: Page, adminToken = token) {
  await submitToken(page, adminToken);
  await expect.poll(() => page.getByRole('button', { name: 'Sign out' }).count(), SOON).toBe(1);
}

/** axe-core's serious and critical violations on the page as it is. */
async function accessibilityViolations(page: Page): Promise<string[]> {
  // Evaluated by the browser's DevTools protocol: the console's CSP (rightly) refuses an injected script tag.
  await page.evaluate(axe.source);
  const results = await page.evaluate(async () => (globalThis as unknown as { axe: typeof axe }).axe.run());
  return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help}`);
}

describe('the console in a browser', () => {
  it('refuses a wrong token with its reason, signs in, shows the tenant, and signs out to nothing', async () => {
    const { page, dialogs } = await open();
    await submitToken(page, 'not-a-token-of-anyone-0123456789abcdef');
    await expect.poll(() => page.getByRole('alert').textContent(), SOON).toMatch(/not valid/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'sign-in.png') });

    // A tenant of its own, so the overview's counts are this test's.
    const own = (await createTenant(api.pool)).token;
    const name = uniqueName('console');
    expect((await call(`${api.url}/v1/applications`, { token: own, body: { name, labels: { note: XSS } } })).status).toBe(201);
    await signIn(page, own);
    await expect.poll(() => page.getByRole('heading', { name: 'Overview' }).count(), SOON).toBe(1);
    await expect.poll(() => page.locator('figure').first().textContent(), SOON).toMatch(/Applications \(1\)/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'overview.png') });

    await page.getByRole('link', { name: 'Applications', exact: true }).click();
    await expect.poll(() => page.getByRole('link', { name }).count(), SOON).toBe(1);
    // A label holding markup is text: no element made of it, no script run.
    await expect.poll(() => page.locator('table').textContent(), SOON).toContain(XSS);
    expect(await page.locator('table img').count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'applications.png') });

    // The token is this tab's, never in the address.
    expect(page.url()).not.toContain(own);
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null; length: number } }).sessionStorage.getItem('meridian.adminToken'))).toBe(own);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByLabel('Admin token').count(), SOON).toBe(1);
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null; length: number } }).sessionStorage.length)).toBe(0);
    expect(await page.locator('table').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await page.close();
  }, 120_000);

  it('creates an application, shows a refusal as its problem detail, and deletes after confirmation', async () => {
    const { page, dialogs } = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'Applications', exact: true }).click();
    const name = uniqueName('made');
    await page.getByLabel('New application').fill(name);
    await page.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.getByRole('link', { name }).count(), SOON).toBe(1);

    await page.getByLabel('New application').fill(XSS);
    await page.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), SOON).toMatch(/name: must/);
    expect(await page.locator('[role=alert] img').count()).toBe(0);

    await page.getByRole('link', { name }).click();
    await expect.poll(() => page.getByRole('heading', { name }).count(), SOON).toBe(1);
    await page.getByRole('button', { name: 'Delete…' }).click();
    await expect.poll(() => page.url(), SOON).toMatch(/#\/applications$/);
    expect(dialogs).toEqual([expect.stringMatching(new RegExp(`^confirm: Delete application ${name}\\?`))]);
    await expect.poll(async () => (await call(`${api.url}/v1/applications?limit=100`, { token })).body.items.some((a: { name: string }) => a.name === name), { timeout: 30_000 }).toBe(false);
    await page.close();
  }, 120_000);

  it('creates a simulated runtime and follows its provisioning stages to CONNECTED without a reload', async () => {
    const { page } = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'Runtimes', exact: true }).click();
    const name = uniqueName('rt');
    await page.getByLabel('New runtime').fill(name);
    await page.getByLabel('Provider').selectOption('simulated');
    await page.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.getByRole('heading', { name }).count(), SOON).toBe(1);
    expect(page.url()).toMatch(/#\/runtimes\/[0-9a-f-]{36}\/[0-9a-f-]{36}$/);
    await expect.poll(() => page.locator('.operation').textContent(), SOON).toMatch(/^PROVISIONING /);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'runtime-provisioning.png') });
    await expect.poll(() => page.locator('dd .condition').first().textContent(), { timeout: 60_000 }).toBe('CONNECTED');
    await expect.poll(() => page.locator('.operation [role=status]').textContent(), SOON).toMatch(/SUCCEEDED/);
    // Its stages as the workflow entered them, each passed.
    await expect.poll(() => page.locator('.operation .timeline strong').allTextContents(), SOON).toEqual(['REGISTERING', 'ISSUING_TOKEN', 'PROVISIONING', 'INJECTING', 'WAITING_FOR_AGENT', 'NOTIFYING', 'FINISHED']);
    // What its agent reports: the applied version and the certificate's expiry.
    await expect.poll(() => page.locator('#agent + dl').textContent(), SOON).toMatch(/RUNNING.*Applied configuration\d+ of \d+.*Certificate expiresin \d+ d/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'runtime.png'), fullPage: true });

    // The provisioning workflow's page in the Temporal UI: the link opens it.
    const link = page.locator('.operation a', { hasText: 'provisioning:' });
    const href = await link.getAttribute('href');
    expect(href).toMatch(new RegExp(`^${inject('temporalUiUrl')}/namespaces/default/workflows/provisioning%3A[0-9a-f-]{36}$`));
    const [ui, answer] = await Promise.all([page.context().waitForEvent('page'), page.context().waitForEvent('response', (r) => r.url() === href), link.click()]);
    expect(answer.status()).toBe(200);
    await ui.close();
    await page.close();
  }, 120_000);

  it('requests pairing and shows the one-time token once, with its countdown; the token works', async () => {
    const name = uniqueName('pair');
    const app = await call(`${api.url}/v1/applications`, { token, body: { name } });
    const { page } = await open();
    await signIn(page);
    await page.goto(`${api.url}/console/#/applications/${app.body.id}`);
    await page.getByRole('button', { name: 'Request pairing' }).click();
    const field = page.getByLabel('One-time token (shown once)');
    await expect.poll(() => field.count(), SOON).toBe(1);
    const pairingToken = await field.inputValue();
    expect(pairingToken.length).toBeGreaterThan(20);
    await expect.poll(() => page.locator('.token p').textContent(), SOON).toMatch(/^Expires in [45]:\d\d/);
    expect(page.url()).not.toContain(pairingToken);
    expect(JSON.stringify(await page.evaluate(() => Object.entries((globalThis as unknown as { sessionStorage: object }).sessionStorage)))).not.toContain(pairingToken);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'application-pairing.png') });
    const exchanged = await call(`${api.url}/connector/v1/signing-request`, { headers: { 'connector-token': pairingToken } });
    expect(exchanged.status).toBe(200);
    // Gone once the view is left: nothing kept it.
    await page.goto(`${api.url}/console/#/applications`);
    await page.goto(`${api.url}/console/#/applications/${app.body.id}`);
    await expect.poll(() => page.getByRole('button', { name: 'Request pairing' }).count(), SOON).toBe(1);
    expect(await field.count()).toBe(0);
    await page.close();
  }, 120_000);

  it('shows which applications and runtimes share each scenario, and edits an application\'s scenarios', async () => {
    const { token: own } = await createTenant(api.pool);
    const scenario = `S${uniqueName('x').slice(2)}`;
    expect((await call(`${api.url}/v1/scenarios`, { token: own, body: { name: scenario } })).status).toBe(201);
    const app = (await call(`${api.url}/v1/applications`, { token: own, body: { name: uniqueName('shared') } })).body;
    const runtime = (await call(`${api.url}/v1/runtimes`, { token: own, body: { name: uniqueName('rt'), provider: 'simulated', scenarios: [scenario] } })).body.runtime;
    const { page } = await open();
    await signIn(page, own);
    await page.getByRole('link', { name: 'Scenarios', exact: true }).click();
    // The matrix: a mark where an application or runtime is in a scenario, in the scenario's column.
    const column = async () => (await page.getByRole('columnheader').allTextContents()).findIndex((text) => text.startsWith(scenario));
    const marked = async (name: string) => (await page.getByRole('row', { name: new RegExp(`^${name}`) }).getByRole('cell').nth((await column()) - 1).textContent()) === `✓ in ${scenario}`;
    await expect.poll(() => marked(runtime.name), SOON).toBe(true);
    expect(await marked(app.name)).toBe(false);

    await page.goto(`${api.url}/console/#/applications/${app.id}`);
    await page.getByRole('checkbox', { name: scenario }).check();
    await page.getByRole('button', { name: 'Save scenarios' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent(), SOON).toBe('Saved.');
    expect((await call(`${api.url}/v1/applications/${app.id}`, { token: own })).body.scenarios.sort()).toEqual(['DEFAULT', scenario].sort());
    // An application keeps at least one scenario: the API's refusal is shown.
    await page.getByRole('checkbox', { name: 'DEFAULT' }).uncheck();
    await page.getByRole('checkbox', { name: scenario }).uncheck();
    await page.getByRole('button', { name: 'Save scenarios' }).click();
    await expect.poll(() => page.getByRole('status').first().textContent(), SOON).toMatch(/must not be empty/);

    await page.getByRole('link', { name: 'Scenarios', exact: true }).click();
    await expect.poll(() => marked(app.name), SOON).toBe(true);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'scenarios.png') });
    await page.close();
  }, 120_000);

  it('shows a scenario\'s automatic assignment, marks the runtimes it brought in apart from members by hand, its pass\'s progress, and removes it', async () => {
    const { token: own } = await createTenant(api.pool);
    const scenario = `S${uniqueName('x').slice(2)}`;
    expect((await call(`${api.url}/v1/scenarios`, { token: own, body: { name: scenario } })).status).toBe(201);
    const runtime = async (fields: Record<string, unknown>) => (await call(`${api.url}/v1/runtimes`, { token: own, body: { name: uniqueName('rt'), provider: 'simulated', ...fields } })).body.runtime;
    const auto = await runtime({ labels: { env: 'prod' } });
    const byHand = await runtime({ labels: { env: 'dev' }, scenarios: [scenario] });
    const { page, dialogs } = await open();
    await signIn(page, own);
    await page.getByRole('link', { name: 'Scenarios', exact: true }).click();
    await page.getByLabel('Assign runtimes to a scenario by label').selectOption(scenario);
    await page.getByLabel('Assignment label key').fill('env');
    await page.getByLabel('Assignment label value (JSON or text)').fill('prod');
    await page.getByRole('button', { name: 'Assign' }).click();
    await expect.poll(async () => (await call(`${api.url}/v1/scenarios/${scenario}/assignments`, { token: own })).body.items, SOON).toEqual([expect.objectContaining({ selector: { key: 'env', value: 'prod' } })]);

    // The column says which label brings runtimes in; their mark says "auto", a member by hand keeps its plain one.
    const header = page.getByRole('columnheader', { name: new RegExp(`^${scenario}`) });
    await expect.poll(() => header.textContent(), SOON).toMatch(/env = "prod"$/);
    const column = async () => (await page.getByRole('columnheader').allTextContents()).findIndex((text) => text.startsWith(scenario));
    const mark = async (name: string) => page.getByRole('row', { name: new RegExp(`^${name}`) }).getByRole('cell').nth((await column()) - 1).textContent();
    await expect.poll(() => mark(auto.name), SOON).toBe(`✓ auto in ${scenario} by assignment`);
    expect(await mark(byHand.name)).toBe(`✓ in ${scenario}`);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'scenarios-assignment.png') });

    // The pass over the tenant's runtimes: how many it examined, of how many, joined and left.
    await page.getByRole('link', { name: 'Operations', exact: true }).click();
    await expect.poll(() => page.getByRole('row', { name: /^SCENARIO_ASSIGNMENT/ }).textContent(), SOON).toMatch(/FINISHED — examined 2 of 2, joined 1, left 0/);

    await page.getByRole('link', { name: 'Scenarios', exact: true }).click();
    await page.getByRole('button', { name: `Remove the assignment of ${scenario}` }).click();
    await expect.poll(async () => (await call(`${api.url}/v1/scenarios/${scenario}/assignments`, { token: own })).body.items, SOON).toEqual([]);
    await expect.poll(async () => (await call(`${api.url}/v1/runtimes/${auto.id}`, { token: own })).body.scenarios, { timeout: 30_000 }).toEqual([]);
    await expect.poll(() => mark(auto.name), SOON).toBe('');
    expect(await header.textContent()).not.toContain('env');
    expect(dialogs).toEqual([expect.stringMatching(new RegExp(`^confirm: Remove the assignment of ${scenario} \\(env = "prod"\\)\\?`))]);
    await page.close();
  }, 120_000);

  it('lists the tenant\'s label definitions with their schema as JSON', async () => {
    const { token: own } = await createTenant(api.pool);
    const schema = { type: 'string', enum: ['prod', 'dev'], description: XSS };
    expect((await call(`${api.url}/v1/label-definitions/env`, { method: 'PUT', token: own, body: { schema } })).status).toBe(200);
    const { page } = await open();
    await signIn(page, own);
    await page.getByRole('link', { name: 'Labels', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Label definitions' }).count(), SOON).toBe(1);
    const row = page.locator('tbody tr', { has: page.getByRole('rowheader', { name: 'env', exact: true }) });
    await expect.poll(() => row.getByRole('cell').allTextContents(), SOON).toEqual([JSON.stringify(schema), expect.stringMatching(/ ago$/)]);
    expect(await page.locator('table img').count()).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'labels.png') });
    await page.close();
  }, 120_000);

  it('shows the audit trail, newest first, and filters it by resource', async () => {
    const { token: own } = await createTenant(api.pool);
    const first = (await call(`${api.url}/v1/applications`, { token: own, body: { name: uniqueName('audited') } })).body;
    const second = (await call(`${api.url}/v1/applications`, { token: own, body: { name: uniqueName('audited') } })).body;
    const { page } = await open();
    await signIn(page, own);
    await page.getByRole('link', { name: 'Audit', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Audit trail' }).count(), SOON).toBe(1);
    const rows = page.locator('tbody tr');
    await expect.poll(() => rows.count(), SOON).toBe(2);
    expect((await rows.nth(0).getByRole('cell').allTextContents()).slice(1, 5)).toEqual([expect.stringMatching(/^admin:/), 'create-application', `/v1/applications/${second.id}`, '201']);
    await page.getByLabel('Resource').fill(`/v1/applications/${first.id}`);
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => rows.count(), SOON).toBe(1);
    expect(await rows.nth(0).getByRole('cell').nth(3).textContent()).toBe(`/v1/applications/${first.id}`);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'audit.png') });
    await page.close();
  }, 120_000);

  it('lists the tenant\'s application templates with their placeholders', async () => {
    const { token: own } = await createTenant(api.pool);
    const template = {
      name: uniqueName('shop'),
      description: 'A shop front of one region',
      placeholders: [{ name: 'app', description: 'name of the application (DNS label)' }, { name: 'region' }],
      application: { name: '{{app}}', labels: { region: '{{region}}' } },
    };
    expect((await call(`${api.url}/v1/application-templates`, { token: own, body: template })).status).toBe(201);
    const { page } = await open();
    await signIn(page, own);
    await page.getByRole('link', { name: 'Templates', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Application templates' }).count(), SOON).toBe(1);
    const row = page.getByRole('row', { name: new RegExp(`^${template.name}`) });
    await expect.poll(() => row.getByRole('cell').allTextContents(), SOON).toEqual([template.description, 'app — name of the application (DNS label)region', expect.stringMatching(/ ago$/)]);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'templates.png') });
    await page.close();
  }, 120_000);

  it('sets and removes a label, and shows the API\'s refusal of a bad key', async () => {
    const app = (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('labelled') } })).body;
    const { page } = await open();
    await signIn(page);
    await page.goto(`${api.url}/console/#/applications/${app.id}`);
    await page.getByLabel('Label key').fill('env');
    await page.getByLabel('Label value (JSON or text)').fill('prod');
    await page.getByRole('button', { name: 'Set label' }).click();
    await expect.poll(() => page.locator('.labels').textContent(), SOON).toBe('env="prod" ×');
    await page.getByLabel('Label key').fill('tier');
    await page.getByLabel('Label value (JSON or text)').fill('3');
    await page.getByRole('button', { name: 'Set label' }).click();
    await expect.poll(async () => (await call(`${api.url}/v1/applications/${app.id}`, { token })).body.labels, SOON).toEqual({ env: 'prod', tier: 3 });

    await page.getByLabel('Label key').fill('no-dashes');
    await page.getByLabel('Label value (JSON or text)').fill('x');
    await page.getByRole('button', { name: 'Set label' }).click();
    await expect.poll(() => page.locator('#labels-title ~ [role=status]').textContent(), SOON).toMatch(/key/);

    await page.getByRole('button', { name: 'Remove label env' }).click();
    await expect.poll(async () => (await call(`${api.url}/v1/applications/${app.id}`, { token })).body.labels, SOON).toEqual({ tier: 3 });
    await expect.poll(() => page.locator('.labels').textContent(), SOON).toBe('tier=3 ×');
    await page.close();
  }, 120_000);

  it('has no serious or critical accessibility violations on its main pages, at 1280×800 and on a narrow screen', async () => {
    const { page } = await open();
    expect(await accessibilityViolations(page), 'sign-in').toEqual([]);
    await signIn(page);
    const app = (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('axe') } })).body;
    const runtime = (await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('axe'), provider: 'simulated' } })).body.runtime;
    for (const view of ['overview', 'applications', 'runtimes', 'scenarios', 'labels', 'templates', 'operations', 'audit', `applications/${app.id}`, `runtimes/${runtime.id}`]) {
      await page.goto(`${api.url}/console/#/${view}`);
      await expect.poll(() => page.locator('main h1').textContent(), SOON).toMatch(/\w/);
      expect(await accessibilityViolations(page), view).toEqual([]);
    }
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${api.url}/console/#/applications`);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'applications-narrow.png'), fullPage: true });
    expect(await accessibilityViolations(page), 'narrow').toEqual([]);
    await page.close();
  }, 120_000);
});
