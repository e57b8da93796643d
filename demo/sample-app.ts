// The demo's sample application, a process of its own: an HTTP API that demands the credentials the
// application issued, and the receiver of its Meridian webhooks (signatures checked). It prints
// `{"url": …}` once listening; `GET /_demo/log` shows what it received, `PUT /_demo/credentials`
// tells it which Authorization header to accept from now on. Every request is answered inside a last
// error handler: a malformed one gets a 4xx problem, never ends the process.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { RequestProblem, createGuardedServer, readBody, requestTarget, sendProblem } from '../runtime/http.js';

const secret = process.env.DEMO_WEBHOOK_SECRET ?? '';
/** Bodies are small JSON documents; anything larger is refused (413). */
const MAX_BODY = 1024 * 1024;
let accepted = '';
const log = {
  webhooks: [] as Array<{ type: string; runtime: { id: string; eventUrl: string | null }; signed: boolean }>,
  requests: [] as Array<{ method: string; path: string; authorized: boolean; scheme: string }>,
};

const signatureOk = (raw: Buffer, header: string | undefined) => {
  if (header === undefined) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
};

/** The body as JSON: 400 when it is not, or not an object. */
const json = (raw: Buffer): Record<string, unknown> => {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RequestProblem(400, 'Bad Request', 'the body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RequestProblem(400, 'Bad Request', 'the body is not a JSON object');
  return value as Record<string, unknown>;
};

const server = createGuardedServer(async (req, res) => {
  const send = (status: number, body?: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(body === undefined ? undefined : JSON.stringify(body));
  const url = requestTarget(req);
  const raw = await readBody(req, MAX_BODY).catch(() => undefined);
  // A client that went away mid-body has nobody to answer.
  if (req.destroyed && !req.complete) return void res.destroy();
  if (!raw) return sendProblem(res, 413, 'Content Too Large', `request bodies are limited to ${MAX_BODY} bytes`);
  if (url.pathname === '/_demo/log') return send(200, log);
  if (url.pathname === '/_demo/credentials' && req.method === 'PUT') {
    const { authorization } = json(raw);
    if (typeof authorization !== 'string') throw new RequestProblem(400, 'Bad Request', '"authorization" must be a string');
    accepted = authorization;
    return send(204);
  }
  if (url.pathname === '/webhooks' && req.method === 'POST') {
    const signed = signatureOk(raw, req.headers['meridian-signature'] as string | undefined);
    if (!signed) return sendProblem(res, 401, 'Unauthorized', 'bad signature');
    const body = json(raw) as { type?: unknown; runtime?: { id: string; eventUrl: string | null } };
    log.webhooks.push({ type: String(body.type), runtime: body.runtime!, signed });
    return send(200);
  }
  if (url.pathname.startsWith('/api/')) {
    const authorization = req.headers.authorization ?? '';
    const authorized = accepted !== '' && authorization === accepted;
    log.requests.push({ method: req.method ?? '', path: url.pathname, authorized, scheme: authorization.split(' ')[0] ?? '' });
    return authorized ? send(200, { orders: [{ id: 1, item: 'coffee' }] }) : sendProblem(res, 401, 'Unauthorized', 'credentials required');
  }
  return sendProblem(res, 404, 'Not Found', 'unknown route');
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
