import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../lib/config.js';
import { connectionOptions } from '../lib/temporal.js';
import { LEAF_DAYS, TEMPORAL_LEAVES, TemporalCaKeyMissing, ensureTemporalCerts } from '../scripts/temporal-certs.js';

const COMPOSE_FILE = path.join(import.meta.dirname, '..', 'docker-compose.yml');
const CERTS_VOLUME = 'temporal-certs';
const CA_VOLUME = 'temporal-ca';
const CERTS_SERVICE = 'temporal-certs';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | null> | string[];
  ports?: Array<string | { published?: number | string; target: number; host_ip?: string }>;
  volumes?: Array<string | { type?: string; source?: string; target: string; read_only?: boolean }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] | string };
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The file as written (YAML merge keys resolved), and as `docker-compose config` resolves it when installed. */
function composeSources(): Array<[string, Compose]> {
  const sources: Array<[string, Compose]> = [['docker-compose.yml', parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose]];
  const resolved = spawnSync('docker-compose', ['-f', COMPOSE_FILE, 'config'], { encoding: 'utf8', env: { ...process.env, MERIDIAN_ADMIN_TOKEN: '' } });
  if (!resolved.error) {
    if (resolved.status !== 0) throw new Error(`docker-compose config: ${resolved.stderr}`);
    sources.push(['docker-compose config', parse(resolved.stdout) as Compose]);
  }
  return sources;
}

const environmentOf = (service: Service): Record<string, string> =>
  Array.isArray(service.environment)
    ? Object.fromEntries(service.environment.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]))
    : Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v ?? '']));

/** Only the Temporal settings: the others hold compose interpolations (`${MERIDIAN_ADMIN_TOKEN:-}`). */
const temporalSettingsOf = (service: Service) => Object.fromEntries(Object.entries(environmentOf(service)).filter(([k]) => k.startsWith('TEMPORAL_')));

const dependenciesOf = (service: Service): Record<string, string | undefined> =>
  Array.isArray(service.depends_on)
    ? Object.fromEntries(service.depends_on.map((name) => [name, undefined]))
    : Object.fromEntries(Object.entries(service.depends_on ?? {}).map(([name, d]) => [name, d.condition]));

/** Mounts as { source, target, readOnly }, from the short (`vol:/path:ro`) or the long syntax. */
const mountsOf = (service: Service) =>
  (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target, readOnly: v.read_only === true };
    const [source, target, mode] = v.split(':');
    return { source, target: target ?? source, readOnly: (mode ?? '').split(',').includes('ro') };
  });

/** Published ports as { hostIp, published, target }; an empty hostIp means every interface. */
const publishedPortsOf = (service: Service) =>
  (service.ports ?? []).map((p) => {
    if (typeof p !== 'string') return { hostIp: p.host_ip ?? '', published: String(p.published ?? ''), target: String(p.target) };
    const parts = p.replace(/\/(tcp|udp)$/, '').split(':');
    const [target, published, hostIp] = [parts.pop()!, parts.pop() ?? '', parts.join(':')];
    return { hostIp, published, target };
  });

/** The files a service's TLS settings name, by the variable names of its kind of client. */
function temporalTlsFiles(env: Record<string, string>): { cert?: string; key?: string; ca?: string } {
  if ('TEMPORAL_TLS_CERT_FILE' in env) return { cert: env.TEMPORAL_TLS_CERT_FILE, key: env.TEMPORAL_TLS_KEY_FILE, ca: env.TEMPORAL_TLS_CA_FILE };
  return { cert: env.TEMPORAL_TLS_CERT, key: env.TEMPORAL_TLS_KEY, ca: env.TEMPORAL_TLS_CA };
}

const LEAF_FILES = new Set(['ca.crt', ...Object.keys(TEMPORAL_LEAVES).flatMap((name) => [`${name}.crt`, `${name}.key`])]);

describe.each(composeSources())('compose trust setup (%s)', (_source, compose) => {
  const services = Object.entries(compose.services);
  const talksToTemporal = services.filter(([, s]) => 'TEMPORAL_ADDRESS' in environmentOf(s));
  const temporal = compose.services.temporal!;

  it('publishes no port of Temporal and nothing but the API on every interface', () => {
    expect(temporal.ports ?? []).toEqual([]);
    for (const [name, service] of services) {
      for (const port of publishedPortsOf(service)) {
        if (name === 'api') continue;
        expect(port.hostIp, `${name} publishes ${port.published}:${port.target}`).toBe('127.0.0.1');
      }
    }
    expect(publishedPortsOf(compose.services['temporal-ui']!)).toEqual([{ hostIp: '127.0.0.1', published: '8233', target: '8080' }]);
  });

  it('runs the frontend with TLS that requires a client certificate of the Temporal CA', () => {
    const env = environmentOf(temporal);
    expect(env).toMatchObject({
      TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
      TEMPORAL_TLS_FRONTEND_CERT: '/temporal-certs/server.crt',
      TEMPORAL_TLS_FRONTEND_KEY: '/temporal-certs/server.key',
      TEMPORAL_TLS_CLIENT1_CA_CERT: '/temporal-certs/ca.crt',
      TEMPORAL_TLS_SERVER_CERT: '/temporal-certs/server.crt',
      TEMPORAL_TLS_SERVER_KEY: '/temporal-certs/server.key',
      TEMPORAL_TLS_SERVER_CA_CERT: '/temporal-certs/ca.crt',
      // Temporal's own connections (internode, system worker) dial 127.0.0.1 and verify the SAN.
      TEMPORAL_TLS_INTERNODE_SERVER_NAME: 'temporal',
      TEMPORAL_TLS_FRONTEND_SERVER_NAME: 'temporal',
    });
    expect(env.TEMPORAL_TLS_CLIENT2_CA_CERT ?? '').toBe('');
  });

  it('health-checks Temporal over mTLS', () => {
    const test = [temporal.healthcheck?.test ?? []].flat().join(' ');
    for (const flag of ['--tls-cert-path /temporal-certs/', '--tls-key-path /temporal-certs/', '--tls-ca-path /temporal-certs/ca.crt', '--tls-server-name temporal']) {
      expect(test).toContain(flag);
    }
  });

  it('gives every service that talks to Temporal a client certificate, key and the CA, mounted read-only', () => {
    expect(talksToTemporal.map(([name]) => name).sort()).toEqual(
      ['api', 'runtime-host', 'temporal-admin-tools', 'temporal-init', 'temporal-ui', 'worker'],
    );
    for (const [name, service] of talksToTemporal) {
      const env = environmentOf(service);
      expect(env.TEMPORAL_ADDRESS, name).toBe('temporal:7233');
      expect(env.TEMPORAL_TLS_SERVER_NAME, name).toBe('temporal');
      const files = temporalTlsFiles(env);
      const certsMount = mountsOf(service).find((m) => m.source === CERTS_VOLUME);
      expect(certsMount, `${name} mounts ${CERTS_VOLUME}`).toMatchObject({ readOnly: true });
      for (const [what, file] of Object.entries(files)) {
        expect(file, `${name}: ${what}`).toBeTruthy();
        expect(path.posix.dirname(file!), `${name}: ${what}`).toBe(certsMount!.target);
        expect(LEAF_FILES.has(path.posix.basename(file!)), `${name}: ${file} is made by temporal-certs`).toBe(true);
      }
      expect(path.posix.basename(files.cert!), name).not.toBe('server.crt');
    }
    expect(environmentOf(compose.services['temporal-ui']!).TEMPORAL_TLS_ENABLE_HOST_VERIFICATION).toBe('true');
  });

  it('Meridian reads the TLS settings its services are given', () => {
    for (const name of ['api', 'worker', 'runtime-host']) {
      const { temporal: settings } = loadConfig(temporalSettingsOf(compose.services[name]!));
      expect(settings.tls, name).toEqual({
        certFile: '/temporal-certs/meridian.crt',
        keyFile: '/temporal-certs/meridian.key',
        caFile: '/temporal-certs/ca.crt',
        serverName: 'temporal',
      });
    }
  });

  it('creates the certificates in a one-shot that everything using them waits for', () => {
    const certs = compose.services[CERTS_SERVICE];
    expect(certs, `${CERTS_SERVICE} service`).toBeDefined();
    expect(certs!.command?.join(' ')).toContain('dist/scripts/temporal-certs.js');
    expect(mountsOf(certs!)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: CERTS_VOLUME, readOnly: false }),
        expect.objectContaining({ source: CA_VOLUME, readOnly: false }),
      ]),
    );
    expect(Object.keys(compose.volumes ?? {})).toEqual(expect.arrayContaining([CERTS_VOLUME, CA_VOLUME]));
    const users = services.filter(([name, s]) => name !== CERTS_SERVICE && mountsOf(s).some((m) => m.source === CERTS_VOLUME));
    expect(users.map(([name]) => name).sort()).toEqual([...talksToTemporal.map(([name]) => name), 'temporal'].sort());
    for (const [name, service] of users) {
      expect(dependenciesOf(service)[CERTS_SERVICE], name).toBe('service_completed_successfully');
    }
  });

  it('mounts the CA key into the one-shot only', () => {
    const holders = services.filter(([, s]) => mountsOf(s).some((m) => m.source === CA_VOLUME)).map(([name]) => name);
    expect(holders).toEqual([CERTS_SERVICE]);
  });
});

describe('scripts/temporal-certs', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-certs-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const folders = (name: string) => ({ dir: path.join(root, name, 'certs'), caDir: path.join(root, name, 'ca') });
  const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file));
  const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, read(dir, f).toString()]));

  it('creates a CA, a server certificate for `temporal` and client certificates that verify against the CA', () => {
    const { dir, caDir } = folders('fresh');
    const result = ensureTemporalCerts({ dir, caDir });
    expect(result.kept).toEqual([]);
    expect(fs.readdirSync(dir).sort()).toEqual([...LEAF_FILES].sort());
    expect(fs.readdirSync(caDir)).toEqual(['ca.key']);

    const ca = new X509Certificate(read(dir, 'ca.crt'));
    expect(ca.ca).toBe(true);
    expect(ca.subject).toContain('CN=Meridian Temporal CA');
    expect(ca.checkPrivateKey(createPrivateKey(read(caDir, 'ca.key')))).toBe(true);

    for (const name of Object.keys(TEMPORAL_LEAVES)) {
      const cert = new X509Certificate(read(dir, `${name}.crt`));
      expect(cert.checkIssued(ca), name).toBe(true);
      expect(cert.verify(ca.publicKey), name).toBe(true);
      expect(cert.ca, name).toBe(false);
      expect(cert.checkPrivateKey(createPrivateKey(read(dir, `${name}.key`))), name).toBe(true);
      expect(cert.keyUsage, name).toContain(CLIENT_AUTH);
      expect(fs.statSync(path.join(dir, `${name}.key`)).mode & 0o777, name).toBe(0o600);
      const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
      expect(Math.round(days), name).toBe(LEAF_DAYS);
    }
    const server = new X509Certificate(read(dir, 'server.crt'));
    expect(server.subjectAltName).toBe('DNS:temporal, DNS:localhost, IP Address:127.0.0.1');
    expect(server.checkHost('temporal')).toBe('temporal');
    expect(server.keyUsage).toContain(SERVER_AUTH);
    expect(new X509Certificate(read(dir, 'meridian.crt')).keyUsage).not.toContain(SERVER_AUTH);
    expect(new X509Certificate(read(dir, 'meridian.crt')).subject).toContain('CN=meridian');
    expect(new X509Certificate(read(dir, 'admin.crt')).subject).toContain('CN=temporal-admin');
  });

  it('keeps every file when run again, as the compose one-shot does on each `up`', () => {
    const { dir, caDir } = folders('twice');
    const cli = () =>
      spawnSync(process.execPath, ['--import', 'tsx', 'scripts/temporal-certs.ts', '--dir', dir, '--ca-dir', caDir], { encoding: 'utf8' });
    const first = cli();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('kept []');
    const before = { ...snapshot(dir), ...snapshot(caDir) };

    const second = cli();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain('issued []');
    expect({ ...snapshot(dir), ...snapshot(caDir) }).toEqual(before);
  });

  it('reissues only a missing pair, with the CA it already has', () => {
    const { dir, caDir } = folders('missing');
    ensureTemporalCerts({ dir, caDir });
    const before = snapshot(dir);
    fs.rmSync(path.join(dir, 'meridian.key'));

    expect(ensureTemporalCerts({ dir, caDir }).issued).toEqual(['meridian.crt', 'meridian.key']);
    const after = snapshot(dir);
    expect(after['meridian.crt']).not.toBe(before['meridian.crt']);
    expect({ ...after, 'meridian.crt': '', 'meridian.key': '' }).toEqual({ ...before, 'meridian.crt': '', 'meridian.key': '' });
    expect(new X509Certificate(after['meridian.crt']!).checkIssued(new X509Certificate(after['ca.crt']!))).toBe(true);
  });

  it('renews the pairs that expire within 30 days and keeps the CA', () => {
    const { dir, caDir } = folders('renewal');
    ensureTemporalCerts({ dir, caDir, now: new Date(Date.now() - (LEAF_DAYS - 10) * 86_400_000) });
    const before = snapshot(dir);

    const { issued } = ensureTemporalCerts({ dir, caDir });
    expect(issued.sort()).toEqual([...LEAF_FILES].filter((f) => f !== 'ca.crt').sort());
    expect(snapshot(dir)['ca.crt']).toBe(before['ca.crt']);
  });

  it('refuses to issue without the CA key, naming it, and keeps what is current', () => {
    const { dir, caDir } = folders('no-ca-key');
    ensureTemporalCerts({ dir, caDir });
    fs.rmSync(path.join(caDir, 'ca.key'));
    expect(ensureTemporalCerts({ dir, caDir }).issued).toEqual([]);

    fs.rmSync(path.join(dir, 'admin.crt'));
    expect(() => ensureTemporalCerts({ dir, caDir })).toThrow(TemporalCaKeyMissing);
    expect(() => ensureTemporalCerts({ dir, caDir })).toThrow(/ca\.key: missing, so admin\.crt cannot be issued/);
  });
});

/**
 * The Temporal dev server here has no TLS options, so a TLS endpoint stands in for the frontend: it
 * presents server.crt, requires a client certificate of the Temporal CA, and answers the one gRPC call
 * a connection makes (GetSystemInfo) with an empty response.
 */
describe("Meridian's Temporal connections with the generated certificates", () => {
  let root: string;
  let server: http2.Http2SecureServer;
  let address: string;
  const clients: string[] = [];

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-'));
    ensureTemporalCerts({ dir: path.join(root, 'certs'), caDir: path.join(root, 'ca') });
    const file = (name: string) => fs.readFileSync(path.join(root, 'certs', name));
    server = http2.createSecureServer({ cert: file('server.crt'), key: file('server.key'), ca: file('ca.crt'), requestCert: true, rejectUnauthorized: true });
    server.on('secureConnection', (socket: TLSSocket) => clients.push(String(socket.getPeerCertificate().subject.CN)));
    server.on('stream', (stream, headers) => {
      stream.resume();
      if (headers[':path'] !== '/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.alloc(5)); // an uncompressed, empty GetSystemInfoResponse
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(root, { recursive: true, force: true });
  });

  /** The api's settings from docker-compose.yml, with the volume at `root` and the frontend at `address`. */
  function composeTemporalConfig() {
    const compose = parse(fs.readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
    const env = Object.fromEntries(
      Object.entries(temporalSettingsOf(compose.services.api!)).map(([k, v]) => [k, v.replace(/^\/temporal-certs\//, `${root}/certs/`)]),
    );
    return loadConfig({ ...env, TEMPORAL_ADDRESS: address }).temporal;
  }

  it('connects a client (grpc-js) with the meridian certificate, verifying the server as `temporal`', async () => {
    const connection = await Connection.connect({ ...(await connectionOptions(composeTemporalConfig())), connectTimeout: 10_000 });
    await connection.close();
    expect(clients).toContain('meridian');
  });

  it('connects a worker connection (Rust core) with the meridian certificate, verifying the server as `temporal`', async () => {
    clients.length = 0;
    const connection = await NativeConnection.connect(await connectionOptions(composeTemporalConfig()));
    await connection.close();
    expect(clients).toContain('meridian');
  });
});
