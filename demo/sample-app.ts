// The demo's sample application, a process of its own: an HTTP API that demands the credentials the
// application issued, and the receiver of its Meridian webhooks (signatures checked). It prints
// `{"url": …}` once listening; `GET /_demo/log` shows what it received, `PUT /_demo/credentials`
// tells it which Authorization header to accept from now on.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const secret = process.env.DEMO_WEBHOOK_SECRET ?? '';
let accepted = '';
const log = {
  webhooks: [] as Array<{ type: string; runtime: { id: string; eventUrl: string | null }; signed: boolean }>,
  requests: [] as Array<{ method: string; path: string; authorized: boolean; scheme: string }>,
};

const signatureOk = (raw: string, header: string | undefined) => {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
  return header !== undefined && header.length === expected.length && timingSafeEqual(Buffer.from(header), expected);
};

const server = http.createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (raw += chunk));
  req.on('end', () => {
    const send = (status: number, body?: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(body === undefined ? undefined : JSON.stringify(body));
    const url = new URL(req.url ?? '/', 'http://sample');
    if (url.pathname === '/_demo/log') return send(200, log);
    if (url.pathname === '/_demo/credentials' && req.method === 'PUT') {
      accepted = (JSON.parse(raw) as { authorization: string }).authorization;
      return send(204);
    }
    if (url.pathname === '/webhooks' && req.method === 'POST') {
      const signed = signatureOk(raw, req.headers['meridian-signature'] as string | undefined);
      if (!signed) return send(401, { detail: 'bad signature' });
      const body = JSON.parse(raw) as (typeof log.webhooks)[number];
      log.webhooks.push({ type: body.type, runtime: body.runtime, signed });
      return send(200);
    }
    if (url.pathname.startsWith('/api/')) {
      const authorization = req.headers.authorization ?? '';
      const authorized = accepted !== '' && authorization === accepted;
      log.requests.push({ method: req.method ?? '', path: url.pathname, authorized, scheme: authorization.split(' ')[0] ?? '' });
      return authorized ? send(200, { orders: [{ id: 1, item: 'coffee' }] }) : send(401, { detail: 'credentials required' });
    }
    return send(404, { detail: 'unknown route' });
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
