// Application templates: a named application shape with {{placeholders}}; an application made from it
// with values is created with its webhooks and definitions, whose specs are registered by the real
// worker. Real API, PostgreSQL and Temporal; specs fetched from a loopback server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asyncApi30Yaml, openApi30 } from './fixtures/specs.js';
import { call, createTenant, receiver, startTestApi, uniqueName, type TestApi } from './helpers.js';

let api: TestApi;
let specServer: Awaited<ReturnType<typeof receiver>>;

beforeAll(async () => {
  api = await startTestApi({ worker: true, registration: { maxWebhooksPerApplication: 3, maxDefinitionsPerApplication: 4 } });
  specServer = await receiver((req) => (req.url === '/eu/openapi.json' ? { status: 200, body: JSON.stringify(openApi30) } : 404));
});
afterAll(async () => {
  await specServer?.close();
  await api?.stop();
});

/** A tenant of its own, with helpers bound to its token. */
async function tenant() {
  const { tenant: { id }, token } = await createTenant(api.pool);
  const req = (method: string, path: string, body?: unknown) => call(`${api.url}${path}`, { method, token, body });
  return { id, token, req };
}

/** Everything a template or an application made from one may leave in the tenant, to prove a refusal changed nothing. */
async function snapshot(tenantId: string): Promise<unknown> {
  const { rows } = await api.pool.query(
    `SELECT
       (SELECT jsonb_agg(t.id ORDER BY t.id) FROM application_templates t WHERE t.tenant_id = $1) AS templates,
       (SELECT jsonb_agg(a.id ORDER BY a.id) FROM applications a WHERE a.tenant_id = $1) AS applications,
       (SELECT count(*) FROM webhooks w WHERE w.tenant_id = $1) AS webhooks,
       (SELECT count(*) FROM definitions d WHERE d.tenant_id = $1) AS definitions,
       (SELECT count(*) FROM operations o WHERE o.tenant_id = $1) AS operations`,
    [tenantId],
  );
  return rows[0];
}

/** Polls an operation until it is no longer IN_PROGRESS (at most 30 s). */
async function finished(token: string, operationId: string) {
  for (let attempt = 0; attempt < 300; attempt++) {
    const op = await call(`${api.url}/v1/operations/${operationId}`, { token });
    if (op.body.state !== 'IN_PROGRESS') return op.body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`operation ${operationId} still in progress after 30 s`);
}

/** A shop front template: every kind of thing an application made from it gets, with placeholders in its strings. */
const shopTemplate = (name = uniqueName('shop')) => ({
  name,
  description: 'A shop front of one region',
  placeholders: [
    { name: 'app', description: 'name of the application (DNS label)' },
    { name: 'region', description: 'region code, e.g. eu' },
    { name: 'specs', description: 'where the OpenAPI documents are served' },
  ],
  application: {
    name: '{{app}}',
    description: 'Orders of {{region}}',
    labels: { region: '{{region}}', owner: { team: 'shop-{{region}}', size: 3 } },
    scenarios: ['DEFAULT'],
    webhooks: [{ type: 'CONFIGURATION_CHANGED', url: 'https://hooks.example/{{region}}' }],
    apis: [
      { name: 'Orders {{region}}', targetUrl: 'https://{{region}}.shop.example/api', spec: { type: 'OPENAPI', format: 'JSON', fetchUrl: '{{specs}}/{{region}}/openapi.json' } },
      { name: 'Inline', targetUrl: 'https://shop.example/inline', spec: { type: 'OPENAPI', format: 'JSON', data: JSON.stringify({ ...openApi30, info: { title: 'Orders {{region}}', version: '1' } }) } },
      { name: 'Without a spec', description: 'no spec, no operation', targetUrl: 'https://shop.example/plain' },
    ],
    events: [{ name: 'order created', spec: { type: 'ASYNCAPI', format: 'YAML', data: asyncApi30Yaml } }],
  },
});

describe('application templates', () => {
  it('stores a template as written, shows it, lists it by name without its application, and deletes it', async () => {
    const { req } = await tenant();
    const written = shopTemplate('b shop');
    // Keys in an order of the administrator's own: kept.
    const application = { events: written.application.events, name: written.application.name, apis: written.application.apis, labels: written.application.labels };
    const created = await req('POST', '/v1/application-templates', { ...written, application });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/v1/application-templates/${created.body.id}`);
    expect(created.body).toMatchObject({ name: 'b shop', description: written.description, placeholders: written.placeholders, createdAt: expect.any(String) });

    const shown = await req('GET', `/v1/application-templates/${created.body.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body.application).toEqual(application);
    expect(Object.keys(shown.body.application)).toEqual(['events', 'name', 'apis', 'labels']);

    const other = await req('POST', '/v1/application-templates', { ...shopTemplate('a shop') });
    const listed = await req('GET', '/v1/application-templates');
    expect(listed.body.items.map((t: { name: string }) => t.name)).toEqual(['a shop', 'b shop']);
    expect(listed.body.items[0]).toEqual({ id: other.body.id, name: 'a shop', description: written.description, placeholders: written.placeholders, createdAt: other.body.createdAt });
    const firstPage = await req('GET', '/v1/application-templates?limit=1');
    expect(firstPage.body.items.map((t: { name: string }) => t.name)).toEqual(['a shop']);
    const secondPage = await req('GET', `/v1/application-templates?limit=1&cursor=${firstPage.body.nextCursor}`);
    expect([secondPage.body.items.map((t: { name: string }) => t.name), secondPage.body.nextCursor]).toEqual([['b shop'], null]);

    const taken = await req('POST', '/v1/application-templates', shopTemplate('b shop'));
    expect([taken.status, taken.body.detail]).toEqual([409, 'an application template named "b shop" already exists in this tenant']);

    expect((await req('DELETE', `/v1/application-templates/${created.body.id}`)).status).toBe(204);
    expect((await req('GET', `/v1/application-templates/${created.body.id}`)).status).toBe(404);
    expect((await req('DELETE', `/v1/application-templates/${created.body.id}`)).status).toBe(404);
    expect((await req('POST', `/v1/application-templates/${created.body.id}/applications`, { values: {} })).status).toBe(404);
  });

  it('creates an application from a template with its placeholders filled in, and registers its definitions until SUCCEEDED', async () => {
    const { req, token, id: tenantId } = await tenant();
    const template = (await req('POST', '/v1/application-templates', shopTemplate())).body;
    const name = uniqueName('eu-shop');

    const res = await req('POST', `/v1/application-templates/${template.id}/applications`, { values: { app: name, region: 'eu', specs: specServer.url } });
    expect(res.status).toBe(201);
    const { operations, ...application } = res.body;
    expect(res.headers.get('location')).toBe(`/v1/applications/${application.id}`);
    expect(application).toMatchObject({ name, description: 'Orders of eu', labels: { region: 'eu', owner: { team: 'shop-eu', size: 3 } }, scenarios: ['DEFAULT'] });
    // One operation per definition with a spec: the two APIs with one, then the event.
    expect(operations).toHaveLength(3);
    for (const op of operations) {
      expect(op).toMatchObject({ type: 'API_REGISTRATION', workflowId: `api-registration:${op.resourceId}` });
      expect(await finished(token, op.id)).toMatchObject({ state: 'SUCCEEDED' });
    }

    const apis = (await req('GET', `/v1/applications/${application.id}/apis`)).body.items;
    expect(apis).toEqual([
      expect.objectContaining({ name: 'Orders eu', targetUrl: 'https://eu.shop.example/api', spec: expect.objectContaining({ status: 'SUCCEEDED', fetchUrl: `${specServer.url}/eu/openapi.json` }) }),
      expect.objectContaining({ name: 'Inline', spec: expect.objectContaining({ status: 'SUCCEEDED', message: 'OpenAPI 3.0.3' }) }),
      expect.objectContaining({ name: 'Without a spec', description: 'no spec, no operation', hasDefaultCredentials: false }),
    ]);
    expect(apis[2].spec).toBeUndefined();
    expect(operations.map((op: { resourceId: string }) => op.resourceId).slice(0, 2)).toEqual([apis[0].id, apis[1].id]);
    const events = (await req('GET', `/v1/applications/${application.id}/events`)).body.items;
    expect(events).toEqual([expect.objectContaining({ id: operations[2].resourceId, name: 'order created', spec: expect.objectContaining({ status: 'SUCCEEDED', message: 'AsyncAPI 3.0.0' }) })]);
    const { rows } = await api.pool.query('SELECT spec_data FROM definitions WHERE id = $1', [apis[1].id]);
    expect(JSON.parse(rows[0].spec_data).info.title).toBe('Orders eu');
    expect((await req('GET', `/v1/applications/${application.id}/webhooks`)).body.items).toEqual([
      expect.objectContaining({ type: 'CONFIGURATION_CHANGED', url: 'https://hooks.example/eu', hasSecret: false }),
    ]);

    // The template stays as it was, and makes another application with other values.
    expect((await req('GET', `/v1/application-templates/${template.id}`)).body.application).toEqual(shopTemplate().application);
    const second = await req('POST', `/v1/application-templates/${template.id}/applications`, { values: { app: uniqueName('us-shop'), region: 'us', specs: specServer.url } });
    expect(second.status).toBe(201);
    const failed = await finished(token, second.body.operations[0].id);
    expect(failed).toMatchObject({ state: 'FAILED' });
    expect((await req('GET', `/v1/applications/${second.body.id}/apis`)).body.items[0].spec).toMatchObject({ status: 'FAILED', message: 'fetchUrl: the server answered HTTP 404' });
    expect(await snapshot(tenantId)).toMatchObject({ applications: expect.arrayContaining([application.id, second.body.id]), webhooks: '2', definitions: '8' });
  });

  it('refuses missing and unknown values, naming them, and an application the values make invalid, naming the path; nothing is created', async () => {
    const { req, id: tenantId } = await tenant();
    const template = (await req('POST', '/v1/application-templates', shopTemplate())).body;
    const taken = uniqueName('taken');
    expect((await req('POST', '/v1/applications', { name: taken })).status).toBe(201);
    await req('PUT', '/v1/label-definitions/region', { schema: { enum: ['eu', 'us'] } });
    const apply = (values: unknown) => req('POST', `/v1/application-templates/${template.id}/applications`, { values });
    const good = { app: uniqueName('shop'), region: 'eu', specs: specServer.url };
    const before = await snapshot(tenantId);

    const missing = await apply({ app: good.app, color: 'red', zone: 'a' });
    expect([missing.status, missing.body.detail]).toEqual([400, 'missing values: region, specs; not placeholders of this template: color, zone']);
    expect(missing.body.errors).toEqual([
      { path: 'values.region', message: 'is required: region code, e.g. eu' },
      { path: 'values.specs', message: 'is required: where the OpenAPI documents are served' },
      { path: 'values.color', message: 'is not a placeholder of this template' },
      { path: 'values.zone', message: 'is not a placeholder of this template' },
    ]);
    // An inherited property name is no value either.
    expect((await apply({ app: good.app, region: 'eu', constructor: 'x' })).body.errors).toEqual([
      { path: 'values.specs', message: 'is required: where the OpenAPI documents are served' },
      { path: 'values.constructor', message: 'is not a placeholder of this template' },
    ]);

    const cases: Array<[string, unknown, number, string, string?]> = [
      ['a name that is no DNS label', { ...good, app: 'Not A Name' }, 400, 'application.name', 'must start with a lowercase letter'],
      ['a URL that is no URL', { ...good, region: 'e u' }, 400, 'application.apis.0.targetUrl', 'must be an absolute http or https URL'],
      ['a fetch URL of a metadata address', { ...good, specs: 'http://169.254.169.254' }, 400, 'application.apis.0.spec.fetchUrl'],
      ['a label its definition refuses', { ...good, region: 'mars' }, 400, 'labels.region', 'must be equal to one of the allowed values'],
      ['a value that is not a string', { ...good, region: 1 }, 400, 'values.region'],
      ['a value too long', { ...good, region: 'x'.repeat(4097) }, 400, 'values.region'],
      ['values that are not an object', ['eu'], 400, 'values'],
      ['the name of an application of the tenant', { ...good, app: taken }, 409, ''],
    ];
    for (const [title, values, status, path, message] of cases) {
      const res = await apply(values);
      expect([title, res.status]).toEqual([title, status]);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      if (path) expect(res.body.errors).toContainEqual(message ? { path, message } : expect.objectContaining({ path }));
    }
    expect((await req('POST', `/v1/application-templates/${template.id}/applications`, { values: good, extra: 1 })).body.errors).toEqual([{ path: 'extra', message: 'is not a known field' }]);
    expect((await req('POST', `/v1/application-templates/${template.id}/applications`, {})).body.errors).toEqual([{ path: 'values', message: expect.any(String) }]);
    expect(await snapshot(tenantId)).toEqual(before);
  });

  it('creates the application, its webhooks and definitions in one transaction: a refusal after the application row leaves nothing behind', async () => {
    const { req, id: tenantId } = await tenant();
    const template = shopTemplate();
    template.placeholders.push({ name: 'scenario', description: 'a scenario of the tenant' });
    template.application.scenarios = ['{{scenario}}'];
    const created = (await req('POST', '/v1/application-templates', template)).body;
    const before = await snapshot(tenantId);
    const res = await req('POST', `/v1/application-templates/${created.id}/applications`, { values: { app: uniqueName('shop'), region: 'eu', specs: specServer.url, scenario: 'Nowhere' } });
    expect([res.status, res.body.errors]).toEqual([400, [{ path: 'application.scenarios', message: 'unknown: Nowhere' }]]);
    expect(await snapshot(tenantId)).toEqual(before);

    await req('POST', '/v1/scenarios', { name: 'Somewhere' });
    const made = await req('POST', `/v1/application-templates/${created.id}/applications`, { values: { app: uniqueName('shop'), region: 'eu', specs: specServer.url, scenario: 'Somewhere' } });
    expect([made.status, made.body.scenarios]).toEqual([201, ['Somewhere']]);
  });

  it('refuses two definitions the values name alike', async () => {
    const { req, id: tenantId } = await tenant();
    const template = {
      name: uniqueName('twins'),
      placeholders: [{ name: 'a' }, { name: 'b' }],
      application: { name: 'twins-{{a}}{{b}}', apis: [{ name: 'API {{a}}', targetUrl: 'https://x.example' }, { name: 'API {{b}}', targetUrl: 'https://x.example' }] },
    };
    const created = (await req('POST', '/v1/application-templates', template)).body;
    const before = await snapshot(tenantId);
    const res = await req('POST', `/v1/application-templates/${created.id}/applications`, { values: { a: '1', b: '1' } });
    expect([res.status, res.body.errors]).toEqual([400, [{ path: 'application.apis.1.name', message: 'another API of the application is named "API 1"' }]]);
    expect(await snapshot(tenantId)).toEqual(before);
    expect((await req('POST', `/v1/application-templates/${created.id}/applications`, { values: { a: '1', b: '2' } })).status).toBe(201);
  });

  it('refuses templates whose placeholders are undeclared, unused or declared twice, that carry secrets or break rules where no placeholder is; nothing is stored', async () => {
    const { req, id: tenantId } = await tenant();
    const base = shopTemplate();
    const app = base.application;
    const cases: Array<[string, unknown, string, string?]> = [
      ['an undeclared placeholder', { ...base, application: { ...app, description: '{{nobody}} here' } }, 'application.description', 'uses {{nobody}}, which placeholders does not declare'],
      ['an unused placeholder', { ...base, placeholders: [...base.placeholders, { name: 'spare' }] }, 'placeholders.3.name', 'spare is not used in application'],
      ['a placeholder declared twice', { ...base, placeholders: [...base.placeholders, { name: 'app' }] }, 'placeholders.3.name', 'declares app a second time'],
      ['a placeholder name that is not one', { ...base, placeholders: [{ name: '1st' }] }, 'placeholders.0.name', 'must be a letter, then at most 63 letters, digits or underscores'],
      ['a placeholder name of 65 characters', { ...base, placeholders: [{ name: `p${'x'.repeat(64)}` }] }, 'placeholders.0.name'],
      ['a webhook secret', { ...base, application: { ...app, webhooks: [{ type: 'CONFIGURATION_CHANGED', url: 'https://h.example', secret: 'x'.repeat(20) }] } }, 'application.webhooks.0.secret', 'is not a known field'],
      ['API default credentials', { ...base, application: { ...app, apis: [{ ...app.apis[0], defaultCredentials: { bearer: { token: 't' } } }] } }, 'application.apis.0.defaultCredentials', 'is not a known field'],
      ['a name without placeholders that is no DNS label', { ...base, placeholders: base.placeholders.slice(1), application: { ...app, name: 'Shop' } }, 'application.name', 'must start with a lowercase letter'],
      ['a target URL without placeholders that is no URL', { ...base, application: { ...app, apis: [{ ...app.apis[0], targetUrl: 'nowhere' }] } }, 'application.apis.0.targetUrl', 'must be an absolute http or https URL'],
      ['a spec with data and fetchUrl', { ...base, application: { ...app, apis: [{ ...app.apis[0], spec: { type: 'OPENAPI', format: 'JSON', data: '{{region}}', fetchUrl: '{{specs}}' } }] } }, 'application.apis.0.spec.data', 'give exactly one of data and fetchUrl'],
      ['an unknown spec type', { ...base, application: { ...app, events: [{ name: 'e', spec: { type: 'RAML', format: 'YAML', data: 'x' } }] } }, 'application.events.0.spec.type'],
      ['two APIs named alike', { ...base, application: { ...app, apis: [app.apis[0], app.apis[0]] } }, 'application.apis.1.name', 'another API of the application is named "Orders {{region}}"'],
      ['more webhooks than an application may have', { ...base, application: { ...app, webhooks: Array(4).fill(app.webhooks[0]) } }, 'application.webhooks'],
      ['more definitions than an application may have', { ...base, application: { ...app, events: [...app.events, { name: 'b' }, { name: 'c' }] } }, 'application.apis'],
      ['an unknown field of the application', { ...base, application: { ...app, color: 'red' } }, 'application.color', 'is not a known field'],
      ['no application', { name: 'x', placeholders: [] }, 'application'],
      ['a name of 101 characters', { ...base, name: 'n'.repeat(101) }, 'name'],
      ['a name with a control character', { ...base, name: 'a\tb' }, 'name'],
    ];
    for (const [title, body, path, message] of cases) {
      const res = await req('POST', '/v1/application-templates', body);
      expect([title, res.status]).toEqual([title, 400]);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.errors, title).toContainEqual(message ? { path, message } : expect.objectContaining({ path }));
    }
    expect(await snapshot(tenantId)).toMatchObject({ templates: null });
    // A string with a placeholder is checked once values fill it in, not before.
    expect((await req('POST', '/v1/application-templates', { ...base, application: { ...app, apis: [{ ...app.apis[0], targetUrl: '{{region}}' }] } })).status).toBe(201);
  });

  it('refuses malformed requests to every route with problem+json', async () => {
    const { req } = await tenant();
    const cases: Array<[string, string, unknown, number, string?]> = [
      ['GET', '/v1/application-templates/not-a-uuid', undefined, 400, 'path.id'],
      ['DELETE', '/v1/application-templates/not-a-uuid', undefined, 400, 'path.id'],
      ['POST', '/v1/application-templates/not-a-uuid/applications', { values: {} }, 400, 'path.id'],
      ['GET', '/v1/application-templates?limit=0', undefined, 400, 'query.limit'],
      ['GET', '/v1/application-templates?cursor=bm9wZQ%00', undefined, 400, 'query.cursor'],
      ['GET', '/v1/application-templates?cursor=AA', undefined, 400, 'query.cursor'],
      ['GET', '/v1/application-templates?sort=name', undefined, 400, 'query.sort'],
      ['GET', '/v1/application-templates/00000000-0000-4000-8000-000000000000', undefined, 404],
      ['DELETE', '/v1/application-templates/00000000-0000-4000-8000-000000000000', undefined, 404],
      ['POST', '/v1/application-templates/00000000-0000-4000-8000-000000000000/applications', { values: {} }, 404],
      ['PUT', '/v1/application-templates', {}, 405],
    ];
    for (const [method, path, body, status, errorPath] of cases) {
      const res = await req(method, path, body);
      expect([method, path, res.status]).toEqual([method, path, status]);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      if (errorPath) expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(errorPath);
    }
    expect((await call(`${api.url}/v1/application-templates`)).status).toBe(401);
    expect((await call(`${api.url}/v1/application-templates`, { body: shopTemplate() })).status).toBe(401);
  });

  it('is the tenant’s own: another tenant gets 404 for it everywhere, does not list it, and may use its name', async () => {
    const a = await tenant();
    const b = await tenant();
    const template = shopTemplate();
    const created = (await a.req('POST', '/v1/application-templates', template)).body;
    const before = await snapshot(a.id);
    expect((await b.req('GET', `/v1/application-templates/${created.id}`)).status).toBe(404);
    expect((await b.req('DELETE', `/v1/application-templates/${created.id}`)).status).toBe(404);
    expect((await b.req('POST', `/v1/application-templates/${created.id}/applications`, { values: { app: uniqueName('b'), region: 'eu', specs: specServer.url } })).status).toBe(404);
    expect((await b.req('GET', '/v1/application-templates')).body.items).toEqual([]);
    expect((await b.req('POST', '/v1/application-templates', template)).status).toBe(201);
    expect(await snapshot(a.id)).toEqual(before);
    expect((await b.req('GET', '/v1/applications')).body.items).toEqual([]);
    expect((await a.req('GET', `/v1/application-templates/${created.id}`)).body.name).toBe(template.name);
  });

  it('is in the OpenAPI document, for administrators', async () => {
    const document = (await call(`${api.url}/openapi.json`)).body;
    expect(Object.keys(document.paths['/v1/application-templates'])).toEqual(['post', 'get']);
    expect(Object.keys(document.paths['/v1/application-templates/{id}'])).toEqual(['get', 'delete']);
    const apply = document.paths['/v1/application-templates/{id}/applications'].post;
    expect(apply.security).toEqual([{ adminToken: [] }]);
    expect(apply.responses['400']['x-meridian-refusal']).toEqual([expect.stringContaining('A placeholder without a value')]);
    expect(Object.keys(document.paths['/v1/application-templates'].post.requestBody.content['application/json'].schema.properties.application.properties.webhooks.items.properties)).toEqual(['type', 'url']);
  });
});
