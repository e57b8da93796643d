import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runtimeFiles } from '../activities/agent.js';

interface Applied {
  configVersion: number;
  applications: Array<{ id: string; name: string; apis: Array<{ id: string; name: string; targetUrl: string; credentials?: unknown }>; events: unknown[] }>;
}

const send = (res: http.ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

const readApplied = (file: string): Applied | undefined => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Applied;
  } catch {
    return undefined;
  }
};

/**
 * The runtime gateway: `POST /events/<applicationName>` takes events for applications in the applied
 * configuration, `GET /applied` shows what the agent applied (never credentials). A local runtime
 * serves its own (`runtimeId` given); the runtime host serves all of its runtimes under `/runtimes/<id>/…`.
 */
export async function startGateway(root: string, runtimeId?: string, port = 0, host = '127.0.0.1'): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer((req, res) => {
    let pathname = new URL(req.url ?? '/', 'http://gateway').pathname;
    let id = runtimeId;
    if (!id) {
      const match = /^\/runtimes\/([0-9a-f-]{36})(\/.*)$/.exec(pathname);
      if (!match) return send(res, 404, { title: 'Not Found', detail: 'unknown route' });
      [, id, pathname] = match as unknown as [string, string, string];
    }
    const applied = readApplied(runtimeFiles(root, id!).applied);
    if (req.method === 'GET' && pathname === '/applied') {
      if (!applied) return send(res, 200, { configVersion: null, applications: [] });
      return send(res, 200, {
        configVersion: applied.configVersion,
        applications: applied.applications.map((a) => ({ id: a.id, name: a.name, apis: a.apis.map((api) => ({ id: api.id, name: api.name })), events: a.events })),
      });
    }
    const event = /^\/events\/([^/]+)$/.exec(pathname);
    if (req.method === 'POST' && event) {
      const name = decodeURIComponent(event[1]!);
      if (!applied?.applications.some((a) => a.name === name)) return send(res, 404, { title: 'Not Found', detail: `no application "${name}" in the applied configuration` });
      req.resume();
      return req.on('end', () => send(res, 202, { accepted: true, application: name }));
    }
    return send(res, 404, { title: 'Not Found', detail: 'unknown route' });
  });
  // The port of an earlier run when it is free, so the eventUrl the runtime reported stays true.
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' && port ? server.listen(0, host, resolve) : reject(error)));
    server.listen(port, host, resolve);
  });
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, server };
}
