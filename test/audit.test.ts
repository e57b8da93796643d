// The audit trail: one entry per change, whoever made it (administrator, application, runtime, workflow,
// operator), queryable per tenant with filters and pages, kept for its retention, and never a secret in it.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { z } from 'zod';
import type { AuditEntry } from '../api/routes/audit.js';
import { untilFinished } from '../client/admin.js';
import { MtlsClient, requestCertificate, requestSigning } from '../client/connector.js';
import { runCli } from '../cli/program.js';
import { createApplication } from '../db/applications.js';
import { insertOperation } from '../db/operations.js';
import { createRuntime } from '../db/runtimes.js';
import { createAdminToken } from '../db/tenants.js';
import { loadConfig } from '../lib/config.js';
import { ensureReconciler } from '../services/reconciler.js';
import { workflowId } from '../workflows/ids.js';
import { reconcilerStatus } from '../workflows/reconciler.js';
import { call, createTenant, pairedApplication, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
});
afterAll(() => api.stop());

/** An entry as GET /v1/audit answers it: the route's own schema. */
type Entry = z.infer<typeof AuditEntry>;

/** One page of the tenant's trail. */
async function trail(token: string, query = ''): Promise<{ items: Entry[]; nextCursor: string | null }> {
  const res = await call(`${api.url}/v1/audit${query}`, { token });
  expect(res.status).toBe(200);
  return res.body;
}

/** The tenant's entries matching `query` once `done` holds for them (request entries are written just after the answer). */
async function entriesOnce(token: string, query: string, done: (items: Entry[]) => boolean): Promise<Entry[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { items } = await trail(token, query);
    if (done(items)) return items;
    if (Date.now() > deadline) throw new Error(`the audit trail${query ? ` (${query})` : ''} never held what was expected; it held: ${JSON.stringify(items)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const oneOf = (token: string, query: string) => entriesOnce(token, query, (items) => items.length === 1).then((items) => items[0]!);

describe('what is recorded', () => {
  it("records an administrator's change with the token's name, the route's action, the resource with its id and the request id", async () => {
    const { token } = await createTenant(api.pool);
    const name = uniqueName('app');
    const created = await call(`${api.url}/v1/applications`, { token, body: { name }, headers: { 'x-request-id': 'audit-create-1' } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(await oneOf(token, '?action=create-application')).toMatchObject({
      actor: 'admin:test',
      actorKind: 'admin',
      action: 'create-application',
      resource: `/v1/applications/${id}`,
      requestId: 'audit-create-1',
      status: 201,
      at: expect.any(String),
    });

    expect((await call(`${api.url}/v1/applications/${id}/labels/env`, { method: 'PUT', token, body: 'prod' })).status).toBe(200);
    expect(await oneOf(token, '?action=set-application-label')).toMatchObject({ actor: 'admin:test', resource: `/v1/applications/${id}/labels/env`, status: 200 });
    const scenario = uniqueName('S');
    expect((await call(`${api.url}/v1/scenarios`, { token, body: { name: scenario } })).status).toBe(201);
    expect(await oneOf(token, '?action=create-scenario')).toMatchObject({ resource: `/v1/scenarios/${scenario}` });
    expect((await call(`${api.url}/v1/applications/${id}`, { method: 'DELETE', token })).status).toBe(202);
    expect(await oneOf(token, '?action=delete-application')).toMatchObject({ resource: `/v1/applications/${id}`, status: 202 });

    // Reads and refused writes change nothing, and record nothing.
    await call(`${api.url}/v1/applications`, { token });
    expect((await call(`${api.url}/v1/scenarios`, { token, body: { name: scenario } })).status).toBe(409);
    expect((await call(`${api.url}/v1/applications`, { token, body: { name: 'Not A Name' } })).status).toBe(400);
    const all = await entriesOnce(token, '', (items) => items.length >= 4);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await trail(token)).items.map((e) => e.action)).toEqual(all.map((e) => e.action));
    expect(all.map((e) => e.action)).toEqual(['delete-application', 'create-scenario', 'set-application-label', 'create-application']);
  });

  it("records a paired application's changes with its certificate's identity, and its token exchange by the token's holder", async () => {
    const { app, client, adminToken } = await pairedApplication(api);
    try {
      expect(await oneOf(adminToken, '?action=pair-application')).toMatchObject({ actor: 'admin:test', resource: `/v1/applications/${app.id}/pairing`, status: 201 });
      // The one-time tokens' exchange: named by whose tokens they were, never by the tokens.
      expect(await oneOf(adminToken, '?action=signing-request')).toMatchObject({ actor: `connector-token:${app.id}`, actorKind: 'application', status: 200 });
      expect(await oneOf(adminToken, '?action=sign-certificate')).toMatchObject({ actor: `connector-token:${app.id}`, actorKind: 'application', status: 201 });

      const registered = await client.request('POST', '/v1/application/apis', { name: uniqueName('api'), targetUrl: 'http://127.0.0.1:9/api' });
      expect(registered.status).toBe(201);
      const entry = await oneOf(adminToken, '?action=register-apis');
      expect(entry).toMatchObject({
        actor: `application:${app.id}`,
        actorKind: 'application',
        resource: `/v1/application/apis/${registered.body.id}`,
        status: 201,
        requestId: registered.headers['x-request-id'],
        detail: { serial: expect.stringMatching(/^[0-9a-f]+$/) },
      });
      expect((await oneOf(adminToken, `?actor=application:${app.id}`)).id).toBe(entry.id);
    } finally {
      client.close();
    }
  });

  it("records a runtime's provisioning: the administrator's request, the workflow's stages, the agent's token exchange and status report", async () => {
    const { token } = await createTenant(api.pool);
    const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated', pollIntervalSeconds: 600 } });
    expect(created.status).toBe(202);
    const runtimeId = created.body.runtime.id as string;
    const operationId = created.body.operation.id as string;
    expect(await untilFinished(api.url, token, operationId, { timeoutMs: 90_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED' });

    expect(await oneOf(token, '?action=create-runtime')).toMatchObject({ actor: 'admin:test', resource: `/v1/runtimes/${runtimeId}`, status: 202 });
    expect(await oneOf(token, '?action=report-runtime-status')).toMatchObject({ actor: `runtime:${runtimeId}`, actorKind: 'runtime', resource: '/v1/runtime/status', status: 200 });
    expect(await oneOf(token, `?actor=connector-token:${runtimeId}&action=sign-certificate`)).toMatchObject({ actorKind: 'runtime' });

    // The workflow's changes, recorded by PostgreSQL in the transaction of each, in order.
    const stages = (await trail(token, `?resource=/v1/operations/${operationId}`)).items.reverse();
    expect(stages.every((e) => e.actor === `workflow:${workflowId.provisioning(runtimeId)}` && e.actorKind === 'workflow' && e.requestId === undefined)).toBe(true);
    expect(stages.map((e) => e.detail?.stage)).toEqual(['ISSUING_TOKEN', 'PROVISIONING', 'INJECTING', 'FINISHED']);
    expect(stages.at(-1)).toMatchObject({ action: 'operation-succeeded', detail: { type: 'PROVISIONING', resourceId: runtimeId, stage: 'FINISHED', state: 'SUCCEEDED' } });
    expect(stages.slice(0, -1).every((e) => e.action === 'operation-stage')).toBe(true);
  });

  it('names the administrator, not the workflow, when a request supersedes an operation', async () => {
    const { token } = await createTenant(api.pool);
    const app = (await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('app') } })).body;
    const first = await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token });
    const second = await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token, headers: { 'x-request-id': 'audit-second-pairing' } });
    expect([first.status, second.status]).toEqual([201, 201]);
    const failed = await entriesOnce(token, `?resource=/v1/operations/${first.body.operationId}&action=operation-failed`, (items) => items.length === 1);
    expect(failed[0]).toMatchObject({
      actor: 'admin:test',
      actorKind: 'admin',
      requestId: 'audit-second-pairing',
      detail: { type: 'PAIRING', state: 'FAILED', message: 'superseded by a new pairing request' },
    });
  });

  it('names the reconciler when it fails an operation', async () => {
    const { tenant, token } = await createTenant(api.pool);
    const app = await createApplication(api.pool, tenant.id, { name: uniqueName('app') });
    // Two unregistrations recorded in progress a minute ago: no workflow finishes either.
    for (const _ of [1, 2]) await insertOperation(api.pool, { tenantId: tenant.id, type: 'UNREGISTRATION', resourceId: app.id, stage: 'DELETING', workflowId: `unregistration:${app.id}` });
    await api.pool.query(`UPDATE operations SET started_at = started_at - interval '1 minute' WHERE resource_id = $1`, [app.id]);
    const scope = uniqueName('scope');
    await ensureReconciler(api.temporal, api.taskQueue, { scope, tenantIds: [tenant.id], intervalSeconds: 1 });
    try {
      const failed = await entriesOnce(token, '?action=operation-failed', (items) => items.length === 2);
      expect(failed.every((e) => e.actor === `workflow:${workflowId.reconciler(scope)}` && e.actorKind === 'workflow')).toBe(true);
    } finally {
      await api.temporal.workflow.getHandle(workflowId.reconciler(scope)).terminate('test finished');
    }
  });
});

describe('reading the trail', () => {
  let token: string;
  let ids: string[];
  beforeAll(async () => {
    ({ token } = await createTenant(api.pool));
    ids = [];
    for (const i of [1, 2, 3]) {
      const res = await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName(`app${i}`) } });
      ids.push(res.body.id);
    }
    // Each request's entry is written just after its answer: wait for them, so the label's comes last.
    await entriesOnce(token, '', (items) => items.length === 3);
    await call(`${api.url}/v1/applications/${ids[0]}/labels/team`, { method: 'PUT', token, body: 'blue' });
    await entriesOnce(token, '', (items) => items.length === 4);
  });

  it('pages newest first with a cursor, each entry once', async () => {
    const seen: Entry[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await trail(token, `?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.items.length).toBeLessThanOrEqual(1);
      seen.push(...page.items);
      cursor = page.nextCursor;
    }
    expect(seen.map((e) => e.action)).toEqual(['set-application-label', 'create-application', 'create-application', 'create-application']);
    expect(new Set(seen.map((e) => e.id)).size).toBe(4);
    expect(seen.map((e) => e.at)).toEqual([...seen.map((e) => e.at)].sort().reverse());
  });

  it('filters by resource (with what lies under it), actor, kind, action and time', async () => {
    expect((await trail(token, `?resource=/v1/applications/${ids[0]}`)).items.map((e) => e.action)).toEqual(['set-application-label', 'create-application']);
    expect((await trail(token, `?resource=/v1/applications/${ids[0]}/labels`)).items).toHaveLength(1);
    // A prefix counts only at a path segment: LIKE's wildcards are taken literally.
    expect((await trail(token, `?resource=/v1/applications/${ids[0]!.slice(0, 8)}`)).items).toHaveLength(0);
    expect((await trail(token, '?resource=/v1/applications/%25')).items).toHaveLength(0);
    expect((await trail(token, '?actor=admin:test')).items).toHaveLength(4);
    expect((await trail(token, '?actor=admin:someone-else')).items).toHaveLength(0);
    expect((await trail(token, '?actorKind=admin&action=create-application')).items).toHaveLength(3);
    expect((await trail(token, '?actorKind=workflow')).items).toHaveLength(0);
    const newest = (await trail(token, '?limit=1')).items[0]!;
    expect((await trail(token, `?since=${encodeURIComponent(newest.at)}`)).items.map((e) => e.id)).toEqual([newest.id]);
    expect((await trail(token, `?until=${encodeURIComponent(newest.at)}`)).items).toHaveLength(3);
    expect((await trail(token, '?since=2999-01-01T00:00:00%2B02:00')).items).toHaveLength(0);
    expect((await trail(token, '?until=0000-01-01T00:00:00Z')).items).toHaveLength(0);
  });

  it('refuses filters it cannot read with 400 problem+json naming them', async () => {
    for (const [query, field] of [
      ['?since=yesterday', 'query.since'],
      ['?actorKind=robot', 'query.actorKind'],
      ['?cursor=not-a-cursor', 'query.cursor'],
      ['?limit=0', 'query.limit'],
      ['?actor=a%00b', 'query.actor'],
      ['?who=me', 'query'],
    ] as const) {
      const res = await call(`${api.url}/v1/audit${query}`, { token });
      expect(res.status, query).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.stringify(res.body.errors), query).toContain(field);
    }
    expect((await call(`${api.url}/v1/audit`)).status).toBe(401);
  });

  it("shows a tenant only its own entries, even for an actor of the same name", async () => {
    const other = await createTenant(api.pool);
    await call(`${api.url}/v1/applications`, { token: other.token, body: { name: uniqueName('other') } });
    const theirs = await entriesOnce(other.token, '?actor=admin:test', (items) => items.length === 1);
    expect(ids.some((id) => theirs[0]!.resource.includes(id))).toBe(false);
    expect((await trail(other.token, `?resource=/v1/applications/${ids[0]}`)).items).toHaveLength(0);
    expect((await trail(token, '?actor=admin:test')).items).toHaveLength(4);
  });

  it('is described in /openapi.json with its filters', async () => {
    const { paths } = (await call(`${api.url}/openapi.json`)).body;
    const list = paths['/v1/audit'].get;
    expect(list.parameters.map((p: { name: string }) => p.name)).toEqual(['limit', 'cursor', 'since', 'until', 'actor', 'actorKind', 'resource', 'action']);
    expect(list.responses['400']['x-meridian-refusal']).toEqual([expect.stringContaining('cursor')]);
  });

  it('is listed by `meridian audit`, with the same filters', async () => {
    const run = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await runCli(args, { out: (t) => (out += t), err: (t) => (err += t), interactive: false }, { MERIDIAN_URL: api.url, MERIDIAN_TOKEN: token });
      return { code, out, err };
    };
    const json = await run('--json', 'audit', '--resource', `/v1/applications/${ids[0]}`, '--since', '1h');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out).map((e: Entry) => e.action)).toEqual(['set-application-label', 'create-application']);
    const text = await run('audit', '--kind', 'admin', '--limit', '2');
    expect(text.code).toBe(0);
    expect(text.out.split('\n')[0]).toMatch(/^AT +ACTOR +ACTION +RESOURCE +STATUS +REQUEST$/);
    expect(text.out.trim().split('\n')).toHaveLength(3);
    expect(text.out).toContain('admin:test');
    expect((await run('audit', '--since', 'yesterday')).code).toBe(2);
  });
});

describe('keeping the trail', () => {
  it('refuses to change an entry or remove a recent one', async () => {
    const { tenant } = await createTenant(api.pool);
    await api.pool.query(`INSERT INTO audit_log (tenant_id, actor, actor_kind, action, resource) VALUES ($1, 'admin:x', 'admin', 'create-application', '/v1/applications/x')`, [tenant.id]);
    await expect(api.pool.query(`UPDATE audit_log SET actor = 'admin:y' WHERE tenant_id = $1`, [tenant.id])).rejects.toThrow('audit_log is append-only: UPDATE refused');
    await expect(api.pool.query('DELETE FROM audit_log WHERE tenant_id = $1', [tenant.id])).rejects.toThrow('audit_log is append-only: DELETE refused');
  });

  it('is pruned by the reconciler after MERIDIAN_AUDIT_RETENTION_DAYS (90), and nothing younger is', async () => {
    expect(loadConfig({}).audit).toEqual({ retentionDays: 90 });
    expect(loadConfig({ MERIDIAN_AUDIT_RETENTION_DAYS: '7' }).audit).toEqual({ retentionDays: 7 });
    expect(() => loadConfig({ MERIDIAN_AUDIT_RETENTION_DAYS: '0' })).toThrow('MERIDIAN_AUDIT_RETENTION_DAYS: must be 1-3650 days');

    const { tenant, token } = await createTenant(api.pool);
    const entry = (days: number) =>
      api.pool.query(
        `INSERT INTO audit_log (tenant_id, at, actor, actor_kind, action, resource) VALUES ($1, now() - make_interval(days => $2), 'admin:test', 'admin', $3, '/v1/scenarios/x')`,
        [tenant.id, days, `aged-${days}`],
      );
    await entry(91);
    await entry(89);
    await entry(0);
    const scope = uniqueName('scope');
    expect(await ensureReconciler(api.temporal, api.taskQueue, { scope, tenantIds: [tenant.id], intervalSeconds: 1 })).toBe('started');
    const reconciler = api.temporal.workflow.getHandle(workflowId.reconciler(scope));
    try {
      await expect.poll(async () => (await reconciler.query(reconcilerStatus)).totals.auditEntriesPruned, { timeout: 30_000 }).toBe(1);
      expect((await trail(token)).items.map((e) => e.action)).toEqual(['aged-0', 'aged-89']);
    } finally {
      await reconciler.terminate('test finished');
    }
  });
});

describe('secrets', () => {
  it('are in no entry: webhook secrets, credentials, default credentials, pairing, CSR and admin tokens', async () => {
    const { tenant, token } = await createTenant(api.pool);
    const secrets: string[] = [token];
    const mark = (name: string) => {
      const value = `${name}-${uniqueName('secret')}`;
      secrets.push(value);
      return value;
    };

    // An admin token created with the CLI, used for the changes below.
    let printed = '';
    const cli = await runCli(['token', 'create', '--tenant', tenant.name, '--name', 'ops'], { out: (t) => (printed += t), err: () => undefined, interactive: false }, { DATABASE_URL: inject('databaseUrl') });
    expect(cli).toBe(0);
    const ops = printed.trim();
    secrets.push(ops);
    const other = await createAdminToken(api.pool, tenant.id, 'other');
    secrets.push(other);

    const app = (await call(`${api.url}/v1/applications`, { token: ops, body: { name: uniqueName('app') } })).body;
    const pairing = (await call(`${api.url}/v1/applications/${app.id}/pairing`, { method: 'POST', token: ops })).body;
    secrets.push(pairing.token);
    const signing = await requestSigning(pairing.connectorUrl, pairing.token);
    secrets.push(signing.csrToken);
    const credentials = await requestCertificate(signing);
    const client = new MtlsClient(credentials);
    try {
      expect((await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: 'http://127.0.0.1:9/hook', secret: mark('webhook') })).status).toBe(201);
      const registered = await client.request('POST', '/v1/application/apis', {
        name: uniqueName('api'),
        targetUrl: 'http://127.0.0.1:9/api',
        defaultCredentials: { bearer: { token: mark('default') } },
      });
      expect(registered.status).toBe(201);
      const runtime = await createRuntime(api.pool, tenant.id, { name: uniqueName('rt'), provider: 'simulated', scenarios: ['DEFAULT'] });
      const set = await client.request('PUT', `/v1/application/apis/${registered.body.id}/credentials/${runtime.id}`, {
        basic: { username: 'edge', password: mark('password') },
        headers: { 'x-api-key': mark('header') },
      });
      expect(set.status).toBe(200);
    } finally {
      client.close();
    }
    await call(`${api.url}/v1/applications/${app.id}/labels/owner`, { method: 'PUT', token: other, body: 'team' });

    // Every change is there, by whom it was made.
    const entries = await entriesOnce(ops, '', (items) => ['create-admin-token', 'create-application', 'pair-application', 'signing-request', 'sign-certificate', 'add-webhook', 'register-apis', 'set-credentials', 'set-application-label'].every((a) => items.some((e) => e.action === a)));
    expect(entries.find((e) => e.action === 'create-admin-token')).toMatchObject({ actorKind: 'operator', actor: expect.stringMatching(/^operator:/), resource: '/admin-tokens/ops' });
    expect(entries.find((e) => e.action === 'create-application')).toMatchObject({ actor: 'admin:ops' });
    expect(entries.find((e) => e.action === 'set-application-label')).toMatchObject({ actor: 'admin:other' });
    expect(entries.find((e) => e.action === 'set-credentials')).toMatchObject({ actor: `application:${app.id}` });

    // None of the secrets anywhere in the table, any tenant's row.
    const { rows } = await api.pool.query<{ text: string }>(`SELECT string_agg(a::text, E'\\n') AS text FROM audit_log a`);
    const text = rows[0]!.text;
    expect(text).toContain(app.id);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
