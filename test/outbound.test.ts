// The outbound guard (lib/outbound.ts): the blocked list, the guarded lookup, and every call Meridian
// makes on a user's behalf refused or allowed through the real stack. Only literal IPs and `localhost`
// are resolved: nothing here needs external DNS, and no traffic leaves the machine.
import type dns from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilFinished } from '../client/admin.js';
import { OutboundRefused, guardedLookup, outboundRequest, outboundTarget, refusedAddress, refusedLiteralHost } from '../lib/outbound.js';
import { SpecFetchFailed, fetchSpec } from '../specs/fetch.js';
import { notifyApplication } from '../workflows/notify.js';
import { call, pairedApplication, receiver, startTestApi, uniqueName, type TestApi } from './helpers.js';

const PRIVATE = 'is a loopback or private address (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true allows it)';
const RESERVED = 'is a link-local, metadata or reserved address';

describe('the blocked list', () => {
  it.each([
    // IPv4: link-local and metadata, "this network", reserved, documentation, 6to4 relay, multicast, broadcast
    '169.254.169.254',
    '169.254.0.1',
    '100.100.100.200',
    '0.0.0.0',
    '0.1.2.3',
    '192.0.0.192',
    '192.0.2.1',
    '192.88.99.1',
    '198.51.100.7',
    '203.0.113.9',
    '224.0.0.1',
    '239.255.255.250',
    '240.0.0.1',
    '255.255.255.255',
    // IPv6: unspecified, link-local, multicast, IETF protocol assignments (Teredo …), documentation, discard, outside 2000::/3
    '::',
    'fe80::1',
    'fe80::1%eth0',
    'ff02::1',
    '2001::1',
    '2001:db8::1',
    '3fff::1',
    '100::1',
    '4000::1',
    // Cloud metadata inside fc00::/7
    'fd00:ec2::254',
    'fd20:ce::254',
    // The metadata address carried by IPv6 in every spelling
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '::FFFF:A9FE:A9FE',
    '0:0:0:0:0:ffff:a9fe:a9fe',
    '::ffff:0:a9fe:a9fe',
    '::169.254.169.254',
    '::a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b::169.254.169.254',
    '2002:a9fe:a9fe::1',
    '::ffff:0.0.0.0',
  ])('always refuses %s, even with MERIDIAN_OUTBOUND_ALLOW_PRIVATE', (address) => {
    expect(refusedAddress(address, true)).toBe(`${address} ${RESERVED}`);
    expect(refusedAddress(address, false)).toBe(`${address} ${RESERVED}`);
  });

  it.each([
    // IPv4: loopback, RFC 1918, shared (CGNAT), benchmarking
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.5',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '100.64.0.1',
    '100.127.255.255',
    '198.18.0.1',
    '198.19.255.255',
    // IPv6: loopback, unique local (fc00::/7), site-local, local-use NAT64
    '::1',
    '0:0:0:0:0:0:0:1',
    'fc00::1',
    'fd12:3456::1',
    'fec0::1',
    '64:ff9b:1::a00:5',
    // Loopback and private IPv4 carried by IPv6: mapped, translated, compatible, NAT64, 6to4
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::FFFF:7F00:0001',
    '0:0:0:0:0:ffff:7f00:1',
    '::ffff:10.0.0.5',
    '::ffff:0:7f00:1',
    '::127.0.0.1',
    '::7f00:1',
    '64:ff9b::7f00:1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a00:5',
    '2002:7f00:1::',
    '2002:a00:5::1',
  ])('refuses %s unless MERIDIAN_OUTBOUND_ALLOW_PRIVATE', (address) => {
    expect(refusedAddress(address, false)).toBe(`${address} ${PRIVATE}`);
    expect(refusedAddress(address, true)).toBeUndefined();
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '172.15.255.255', '172.32.0.1', '100.63.255.255', '100.128.0.1', '198.20.0.1', '2606:4700::1', '2a00:1450:4001::1', '::ffff:93.184.216.34', '64:ff9b::5db8:d822', '2002:5db8:d822::1'])(
    'allows the public address %s',
    (address) => {
      expect(refusedAddress(address, false)).toBeUndefined();
    },
  );
});

describe('targets', () => {
  it.each([
    ['http://169.254.169.254/latest/meta-data', true, `169.254.169.254 ${RESERVED}`],
    ['http://[::ffff:a9fe:a9fe]/', true, `::ffff:a9fe:a9fe ${RESERVED}`],
    ['http://[::ffff:127.0.0.1]:8080/', false, `::ffff:7f00:1 ${PRIVATE}`],
    ['http://2130706433/', false, `127.0.0.1 ${PRIVATE}`],
    ['http://0x7f.1/', false, `127.0.0.1 ${PRIVATE}`],
    ['https://10.0.0.5/hook', false, `10.0.0.5 ${PRIVATE}`],
    ['ftp://93.184.216.34/', true, 'ftp: is not http or https'],
  ])('refuses %s (allowPrivate %s) before any connection', (url, allowPrivate, reason) => {
    expect(() => outboundTarget(url, allowPrivate)).toThrow(new OutboundRefused(reason));
  });

  it('leaves host names to the lookup, where what they resolve to is checked', () => {
    expect(outboundTarget('http://localhost:8080/x', false).hostname).toBe('localhost');
    expect(outboundTarget('https://93.184.216.34/', false).hostname).toBe('93.184.216.34');
  });

  it('refuses only never-called literal hosts as input (names and private addresses are judged at call time)', () => {
    expect(refusedLiteralHost('http://169.254.169.254/')).toBe(`169.254.169.254 ${RESERVED}`);
    expect(refusedLiteralHost('http://[fe80::1]/')).toBe(`fe80::1 ${RESERVED}`);
    expect(refusedLiteralHost('http://127.0.0.1:9/')).toBeUndefined();
    expect(refusedLiteralHost('http://metadata.example/')).toBeUndefined();
    expect(refusedLiteralHost('not a url')).toBeUndefined();
  });
});

describe('the guarded lookup', () => {
  const lookup = (allowPrivate: boolean, options: dns.LookupOptions) =>
    new Promise<{ error: Error | null; address: unknown }>((resolve) => guardedLookup(allowPrivate)('localhost', options, (error, address) => resolve({ error, address })));

  it('refuses a name that resolves to loopback without MERIDIAN_OUTBOUND_ALLOW_PRIVATE', async () => {
    for (const options of [{}, { all: true }]) {
      const { error } = await lookup(false, options);
      expect(error).toBeInstanceOf(OutboundRefused);
      expect(error!.message).toBe(`localhost resolves to a loopback or private address (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true allows it)`);
    }
  });

  it('answers the checked loopback addresses with it', async () => {
    const one = await lookup(true, {});
    expect(one.error).toBeNull();
    expect(['127.0.0.1', '::1']).toContain(one.address);
    const all = await lookup(true, { all: true });
    expect((all.address as dns.LookupAddress[]).every((a) => a.address === '127.0.0.1' || a.address === '::1')).toBe(true);
  });
});

describe('outbound requests', () => {
  let target: Awaited<ReturnType<typeof receiver>>;
  let localhost: string;
  beforeAll(async () => {
    target = await receiver((req) => (req.url === '/moved' ? { status: 302, body: '' } : 200));
    localhost = target.url.replace('127.0.0.1', 'localhost');
  });
  afterAll(() => target.close());

  it('refuses a host name that resolves to loopback before connecting, and reaches it with the setting', async () => {
    const before = target.requests.length;
    await expect(outboundRequest(`${localhost}/x`, { allowPrivate: false, method: 'POST', body: '{}', timeoutMs: 2_000 })).rejects.toThrow(OutboundRefused);
    expect(target.requests).toHaveLength(before);
    const res = await outboundRequest(`${localhost}/x`, { allowPrivate: true, method: 'POST', body: '{}', timeoutMs: 2_000 });
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(target.requests.at(-1)).toMatchObject({ method: 'POST', url: '/x', body: '{}' });
  });

  it('hands a redirect back instead of following it', async () => {
    const res = await outboundRequest(`${target.url}/moved`, { allowPrivate: true, timeoutMs: 2_000 });
    res.resume();
    expect(res.statusCode).toBe(302);
  });

  it('refuses a spec fetch redirected to the metadata address, even with the setting', async () => {
    const server = http.createServer((_req, res) => res.writeHead(302, { location: 'http://[::ffff:169.254.169.254]/latest/meta-data' }).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://localhost:${(server.address() as AddressInfo).port}/spec.json`;
      const failed = await fetchSpec(url, { allowPrivate: true, timeoutMs: 2_000 }).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(SpecFetchFailed);
      expect(failed).toMatchObject({ message: `fetchUrl: refused: ::ffff:a9fe:a9fe ${RESERVED}`, retryable: false });
    } finally {
      server.close();
    }
  });
});

/** Creates a simulated runtime in the scenario and waits until it is CONNECTED. */
async function connectedRuntime(api: TestApi, token: string, scenario: string) {
  const created = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated', scenarios: [scenario], pollIntervalSeconds: 600 } });
  expect(created.status).toBe(202);
  expect(await untilFinished(api.url, token, created.body.operation.id, { timeoutMs: 90_000, intervalMs: 250 })).toMatchObject({ state: 'SUCCEEDED' });
  return (await call(`${api.url}/v1/runtimes/${created.body.runtime.id}`, { token })).body as { id: string; eventUrl: string };
}

const notify = (api: TestApi, tenantId: string, applicationId: string) => {
  const eventId = uniqueName('evt');
  return api.temporal.workflow.execute(notifyApplication, {
    workflowId: `notify:${applicationId}:${eventId}`,
    taskQueue: api.taskQueue,
    args: [{ tenantId, applicationId, eventId, event: { type: 'runtime.connected', runtime: { id: '00000000-0000-4000-8000-000000000001', name: 'edge-1', eventUrl: null }, configVersion: 1, occurredAt: new Date().toISOString() } }],
  });
};

describe('without MERIDIAN_OUTBOUND_ALLOW_PRIVATE (the default)', () => {
  let api: TestApi;
  let target: Awaited<ReturnType<typeof receiver>>;
  let localhost: string;
  beforeAll(async () => {
    api = await startTestApi({ worker: true, outbound: { allowPrivate: false } });
    target = await receiver();
    localhost = target.url.replace('127.0.0.1', 'localhost');
  });
  afterAll(async () => {
    await target.close();
    await api.stop();
  });

  it.each([
    ['a host name that resolves to loopback', () => `${localhost}/hook`, `refused: localhost resolves to a loopback or private address (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true allows it)`],
    ['a literal loopback address', () => `${target.url}/hook`, `refused: 127.0.0.1 ${PRIVATE}`],
  ])('fails a webhook delivery to %s at once, naming why, and the receiver gets nothing', async (_title, url, reason) => {
    const { app, client, tenant, adminToken } = await pairedApplication(api);
    expect((await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: url() })).status).toBe(201);
    const outcomes = await notify(api, tenant.id, app.id);
    expect(outcomes).toEqual([{ deliveryId: expect.any(String), state: 'FAILED' }]);
    const deliveries = await call(`${api.url}/v1/applications/${app.id}/deliveries`, { token: adminToken });
    expect(deliveries.body.items).toEqual([expect.objectContaining({ state: 'FAILED', attempts: 1, lastStatus: null, lastError: reason })]);
    expect(target.requests).toEqual([]);
    client.close();
  });

  it.each(['http://169.254.169.254/hook', 'http://[::ffff:a9fe:a9fe]/hook', 'http://[fe80::1]/hook', 'http://0.0.0.0:8080/hook'])('refuses to register a webhook at %s (400 naming url)', async (url) => {
    const { client } = await pairedApplication(api);
    const res = await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'url', message: 'must not point at a link-local, metadata or reserved address' })]);
    expect((await client.request('GET', '/v1/application/webhooks')).body.items).toEqual([]);
    client.close();
  });

  it('fails a spec fetch from a host name that resolves to loopback, naming why', async () => {
    const { client } = await pairedApplication(api);
    const res = await client.request('POST', '/v1/application/apis', { name: uniqueName('api'), targetUrl: 'http://93.184.216.34/', spec: { type: 'OPENAPI', format: 'JSON', fetchUrl: `${localhost}/openapi.json` } });
    expect(res.body.spec).toMatchObject({ status: 'FAILED', message: `fetchUrl: refused: localhost resolves to a loopback or private address (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true allows it)` });
    expect(target.requests).toEqual([]);
    client.close();
  });

  it("answers a gateway call to a targetUrl on loopback, and to an OAuth tokenUrl on loopback, with 403 naming the refusal", async () => {
    const paired = await pairedApplication(api);
    const scenario = uniqueName('S');
    expect((await call(`${api.url}/v1/scenarios`, { token: paired.adminToken, body: { name: scenario } })).status).toBe(201);
    expect((await call(`${api.url}/v1/applications/${paired.app.id}/scenarios`, { method: 'PUT', token: paired.adminToken, body: [scenario] })).status).toBe(200);
    const registered = await paired.client.request('POST', '/v1/application/apis', { name: 'orders', targetUrl: `${localhost}/api` });
    expect(registered.status).toBe(201);
    const runtime = await connectedRuntime(api, paired.adminToken, scenario);
    const gateway = `${runtime.eventUrl.replace(/\/events$/, '')}/gateway/${paired.app.name}/orders/items`;

    let answer: Awaited<ReturnType<typeof call>> | undefined;
    await expect.poll(async () => (answer = await call(gateway)).status, { timeout: 20_000, interval: 200 }).toBe(403);
    expect(answer!.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(answer!.body.detail).toBe(`refused: the API's targetUrl: localhost resolves to a loopback or private address (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true allows it)`);

    const credentials = { oauth: { tokenUrl: `${localhost}/token`, clientId: 'client', clientSecret: 'client-secret-0123456789' } };
    expect((await paired.client.request('PUT', `/v1/application/apis/${registered.body.id}/credentials/${runtime.id}`, credentials)).status).toBe(200);
    await expect.poll(async () => (answer = await call(gateway)).body?.detail, { timeout: 20_000, interval: 200 }).toMatch(/tokenUrl/);
    expect(answer!.status).toBe(403);
    expect(answer!.body.detail).toBe(`refused: the OAuth tokenUrl: localhost resolves to a loopback or private address (MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true allows it)`);
    expect(answer!.text).not.toContain('client-secret');
    expect(target.requests).toEqual([]);
    paired.client.close();
  });
});

describe('with MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true', () => {
  let api: TestApi;
  let target: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    api = await startTestApi({ worker: true, outbound: { allowPrivate: true } });
    target = await receiver();
  });
  afterAll(async () => {
    await target.close();
    await api.stop();
  });

  it('delivers a webhook to a loopback receiver named localhost', async () => {
    const { app, client, tenant, adminToken } = await pairedApplication(api);
    await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${target.url.replace('127.0.0.1', 'localhost')}/hook` });
    const outcomes = await notify(api, tenant.id, app.id);
    expect(outcomes).toEqual([{ deliveryId: expect.any(String), state: 'DELIVERED' }]);
    expect(target.requests.map((r) => r.url)).toEqual(['/hook']);
    const deliveries = await call(`${api.url}/v1/applications/${app.id}/deliveries`, { token: adminToken });
    expect(deliveries.body.items).toEqual([expect.objectContaining({ state: 'DELIVERED', lastStatus: 200, lastError: null })]);
    client.close();
  });

  it('still fails a delivery whose host is the metadata address in IPv6 form (stored before it was refused at registration)', async () => {
    const { app, client, tenant, adminToken } = await pairedApplication(api);
    // Registration refuses it; a row written directly stands for one registered before that rule.
    const webhookId = (await client.request('POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url: `${target.url}/placeholder` })).body.id;
    await api.pool.query('UPDATE webhooks SET url = $2 WHERE id = $1', [webhookId, 'http://[::ffff:169.254.169.254]/latest']);
    const outcomes = await notify(api, tenant.id, app.id);
    expect(outcomes[0]!.state).toBe('FAILED');
    const deliveries = await call(`${api.url}/v1/applications/${app.id}/deliveries`, { token: adminToken });
    expect(deliveries.body.items[0]).toMatchObject({ state: 'FAILED', attempts: 1, lastError: `refused: ::ffff:a9fe:a9fe ${RESERVED}` });
    client.close();
  });
});
