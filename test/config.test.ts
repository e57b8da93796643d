import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../lib/config.js';

describe('configuration', () => {
  it('has working defaults for a laptop', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8080, mtlsPort: 8443, trustProxy: false, tlsHostnames: ['localhost', '127.0.0.1'] });
    expect(config.connector).toEqual({
      subjectExtras: { L: 'Waldorf', ST: 'Baden-Wuerttemberg', C: 'DE' },
      validityDays: 90,
      renewalOverlapSeconds: 600,
      ttl: { application: 300, runtime: 3600, csr: 300 },
    });
    expect(config.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', uiPort: 8233, startDevServer: true });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.taskQueue).toBe('meridian');
    expect(config.runtimeHostPort).toBe(0);
  });

  it.each([
    [{ DATABASE_URL: 'not-a-url' }, 'DATABASE_URL: must be a postgres:// or postgresql:// URL with a host'],
    [{ DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL: must be a postgres:// or postgresql:// URL with a host'],
    [{ MERIDIAN_HTTP_PORT: '70000' }, 'MERIDIAN_HTTP_PORT: must be a port number (0-65535)'],
    [{ MERIDIAN_HTTP_PORT: 'eighty' }, 'MERIDIAN_HTTP_PORT'],
    [{ MERIDIAN_RUNTIME_HOST_PORT: '-1' }, 'MERIDIAN_RUNTIME_HOST_PORT: must be a port number (0-65535)'],
    [{ TEMPORAL_ADDRESS: 'http://x:7233' }, 'TEMPORAL_ADDRESS: must be host:port'],
    [{ MERIDIAN_ADMIN_TOKEN: 'short' }, 'MERIDIAN_ADMIN_TOKEN: must be at least 32 characters'],
    [{ MERIDIAN_TRUST_PROXY: 'yes' }, 'MERIDIAN_TRUST_PROXY'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ MERIDIAN_CERT_COUNTRY: 'Germany' }, 'MERIDIAN_CERT_COUNTRY: must be a two-letter country code'],
    [{ MERIDIAN_CERT_LOCALITY: 'a,b' }, 'MERIDIAN_CERT_LOCALITY'],
    [{ MERIDIAN_CSR_TOKEN_TTL: '1' }, 'MERIDIAN_CSR_TOKEN_TTL: must be 10-86400 seconds'],
    [{ MERIDIAN_RENEWAL_OVERLAP_SECONDS: '-1' }, 'MERIDIAN_RENEWAL_OVERLAP_SECONDS: must be 0-86400 seconds'],
    [{ MERIDIAN_PUBLIC_URL: 'ftp://x' }, 'MERIDIAN_PUBLIC_URL'],
    [{ MERIDIAN_CA_CERT_FILE: '/ca.crt' }, 'MERIDIAN_CA_CERT_FILE: must be set together with MERIDIAN_CA_KEY_FILE'],
    [{ TEMPORAL_TLS_CERT_FILE: '/x.pem' }, 'TEMPORAL_TLS_CERT_FILE: must be set together with TEMPORAL_TLS_KEY_FILE'],
  ])('rejects %o naming the variable and its rule', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('refuses outbound calls to private addresses unless MERIDIAN_OUTBOUND_ALLOW_PRIVATE (or its earlier name) allows them', () => {
    expect(loadConfig({}).outbound).toEqual({ allowPrivate: false });
    expect(loadConfig({ MERIDIAN_OUTBOUND_ALLOW_PRIVATE: 'true' }).outbound).toEqual({ allowPrivate: true });
    expect(loadConfig({ MERIDIAN_SPEC_FETCH_ALLOW_PRIVATE: 'true' }).outbound).toEqual({ allowPrivate: true });
    expect(loadConfig({ MERIDIAN_OUTBOUND_ALLOW_PRIVATE: 'false', MERIDIAN_SPEC_FETCH_ALLOW_PRIVATE: 'true' }).outbound).toEqual({ allowPrivate: false });
    expect(() => loadConfig({ MERIDIAN_OUTBOUND_ALLOW_PRIVATE: 'yes' })).toThrow('MERIDIAN_OUTBOUND_ALLOW_PRIVATE');
  });

  it('bounds what one application registers, spec validation time and UNUSED slot retention, each by a setting', () => {
    const defaults = loadConfig({});
    expect(defaults.registration).toMatchObject({ maxDefinitionsPerApplication: 200, maxWebhooksPerApplication: 20, validationTimeoutMs: 10_000 });
    expect(defaults.credentialSlots).toEqual({ unusedRetentionDays: 30 });
    const set = loadConfig({
      MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION: '50',
      MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION: '5',
      MERIDIAN_SPEC_VALIDATION_TIMEOUT_SECONDS: '3',
      MERIDIAN_UNUSED_SLOT_RETENTION_DAYS: '7',
    });
    expect(set.registration).toMatchObject({ maxDefinitionsPerApplication: 50, maxWebhooksPerApplication: 5, validationTimeoutMs: 3_000 });
    expect(set.credentialSlots).toEqual({ unusedRetentionDays: 7 });
    expect(() => loadConfig({ MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION: '0' })).toThrow('MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION: must be 1-1000');
    expect(() => loadConfig({ MERIDIAN_SPEC_VALIDATION_TIMEOUT_SECONDS: '60' })).toThrow('MERIDIAN_SPEC_VALIDATION_TIMEOUT_SECONDS: must be 1-30 seconds');
  });

  it('accepts an external PostgreSQL URL', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/meridian' }).databaseUrl).toBe('postgres://u:p@db:5432/meridian');
  });

  it('stops `npm start` at once with a one-line error and a non-zero exit code', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      env: { ...process.env, DATABASE_URL: 'not-a-url' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('meridian: configuration error: DATABASE_URL: must be a postgres:// or postgresql:// URL with a host');
    // At once: before it started anything (no line of a starting stack).
    expect(result.stdout).not.toMatch(/starting|Temporal|PostgreSQL/i);
  });
});
