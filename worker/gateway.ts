import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface Applied {
  configVersion: number;
  applications: Array<{ id: string; name: string; apis: Array<{ id: string; name: string; targetUrl: string; credentials?: unknown }>; events: unknown[] }>;
}

const send = (res: http.ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

/**
 * The runtime gateway: `POST /events/<applicationName>` takes events for applications in the applied
 * configuration, `GET /applied` shows what the agent applied (never credentials).
 */
export async function startGateway(appliedFile: string, host = '127.0.0.1'): Promise<{ url: string; server: http.Server }> {
  const read = (): Applied | undefined => {
    try {
      return JSON.parse(fs.readFileSync(appliedFile, 'utf8')) as Applied;
    } catch {
      return undefined;
    }
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const applied = read();
    if (req.method === 'GET' && url.pathname === '/applied') {
      if (!applied) return send(res, 200, { configVersion: null, applications: [] });
      return send(res, 200, {
        configVersion: applied.configVersion,
        applications: applied.applications.map((a) => ({ id: a.id, name: a.name, apis: a.apis.map((api) => ({ id: api.id, name: api.name })), events: a.events })),
      });
    }
    const event = /^\/events\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'POST' && event) {
      const name = decodeURIComponent(event[1]!);
      if (!applied?.applications.some((a) => a.name === name)) return send(res, 404, { title: 'Not Found', detail: `no application "${name}" in the applied configuration` });
      req.resume();
      return req.on('end', () => send(res, 202, { accepted: true, application: name }));
    }
    return send(res, 404, { title: 'Not Found', detail: 'unknown route' });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, server };
}
