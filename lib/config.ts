import path from 'node:path';
import { z } from 'zod';

/** Thrown by {@link loadConfig} when an environment variable breaks its rule; the message is one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const port = z.coerce.number().int().min(0, 'must be a port number (0-65535)').max(65535, 'must be a port number (0-65535)');
const optionalPath = z.string().min(1).optional();
const boolean = z.enum(['true', 'false']).transform((v) => v === 'true');

const seconds = z.coerce.number().int().min(10, 'must be 10-86400 seconds').max(86400, 'must be 10-86400 seconds');
const subjectValue = z.string().min(1).max(64, 'must be at most 64 characters').regex(/^[^,=+"\\<>;]+$/, 'must not contain , = + " \\ < > ;');
const httpUrl = z.string().regex(/^https?:\/\/[^\s/]+$/, 'must be an http(s) origin without a path, e.g. https://meridian.example.com');

const postgresUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'must be a postgres:// or postgresql:// URL with a host');

/** Days the audit trail keeps an entry unless MERIDIAN_AUDIT_RETENTION_DAYS says otherwise. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 90;

/** Poll intervals a CONNECTED runtime may miss before it is UNREACHABLE, unless MERIDIAN_UNREACHABLE_AFTER_INTERVALS says otherwise. */
export const DEFAULT_UNREACHABLE_AFTER_INTERVALS = 3;

/** Requests one API process works on at once, unless MERIDIAN_MAX_REQUESTS_IN_FLIGHT says otherwise (api/shedding.ts). */
export const DEFAULT_MAX_REQUESTS_IN_FLIGHT = 200;

/**
 * Every environment variable Meridian reads, with its rule and default.
 * The README's configuration table mirrors this schema.
 */
const schema = z.object({
  /** Where local state lives: embedded PostgreSQL, Temporal's SQLite file, CA, bootstrap secrets. @default .data */
  MERIDIAN_DATA_DIR: z.string().min(1).default('.data'),
  /** External PostgreSQL; when unset, `npm start` runs an embedded server under the data directory. */
  DATABASE_URL: postgresUrl.optional(),
  /** Port of the embedded PostgreSQL. @default 5433 */
  MERIDIAN_PG_PORT: port.default(5433),
  /** Temporal frontend. @default 127.0.0.1:7233 */
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port').default('127.0.0.1:7233'),
  /** @default default */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Client certificate, key and CA for a Temporal cluster that requires mTLS. */
  TEMPORAL_TLS_CERT_FILE: optionalPath,
  TEMPORAL_TLS_KEY_FILE: optionalPath,
  TEMPORAL_TLS_CA_FILE: optionalPath,
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** Whether `npm start` runs a Temporal dev server at TEMPORAL_ADDRESS; false uses the one already there. @default true */
  MERIDIAN_START_TEMPORAL: boolean.default(true),
  /** Temporal Web UI port of the dev server `npm start` runs. @default 8233 */
  TEMPORAL_UI_PORT: port.default(8233),
  /**
   * Where operators open the Temporal Web UI: operations, deliveries and runtime agents in the API and the
   * console link their workflow's page there. @default the dev server's UI when `npm start` runs one; else none
   */
  MERIDIAN_TEMPORAL_UI_URL: z
    .string()
    .refine((value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash && !url.username && !url.password;
      } catch {
        return false;
      }
    }, 'must be an http(s) URL without query or fragment, e.g. https://temporal.example.com')
    .optional(),
  /** Interface the public listener binds. @default 127.0.0.1 */
  MERIDIAN_HOST: z.string().min(1).default('127.0.0.1'),
  /** Public HTTP listener. @default 8080 */
  MERIDIAN_HTTP_PORT: port.default(8080),
  /** mTLS listener for paired applications and runtimes. @default 8443 */
  MERIDIAN_MTLS_PORT: port.default(8443),
  /** Public base URL announced to token holders. @default http://localhost:<MERIDIAN_HTTP_PORT> */
  MERIDIAN_PUBLIC_URL: httpUrl.optional(),
  /** mTLS base URL announced to paired clients. @default https://localhost:<MERIDIAN_MTLS_PORT> */
  MERIDIAN_MTLS_URL: httpUrl.optional(),
  /** Names and addresses in the mTLS listener's server certificate, comma-separated. @default localhost,127.0.0.1 */
  MERIDIAN_TLS_HOSTNAMES: z.string().regex(/^[\w.:-]+(,[\w.:-]+)*$/, 'must be a comma-separated list of host names or IPs').default('localhost,127.0.0.1'),
  /** CA certificate and key files; when unset the CA is generated into the data directory. */
  MERIDIAN_CA_CERT_FILE: optionalPath,
  MERIDIAN_CA_KEY_FILE: optionalPath,
  /** Lifetime of issued client certificates. @default 90 */
  MERIDIAN_CERT_VALIDITY_DAYS: z.coerce.number().int().min(1, 'must be 1-825 days').max(825, 'must be 1-825 days').default(90),
  MERIDIAN_RENEWAL_OVERLAP_SECONDS: z.coerce.number().int().min(0, 'must be 0-86400 seconds').max(86_400, 'must be 0-86400 seconds').default(600),
  /** L, ST and C of issued certificate subjects. */
  MERIDIAN_CERT_LOCALITY: subjectValue.default('Waldorf'),
  MERIDIAN_CERT_PROVINCE: subjectValue.default('Baden-Wuerttemberg'),
  MERIDIAN_CERT_COUNTRY: z.string().regex(/^[A-Z]{2}$/, 'must be a two-letter country code').default('DE'),
  /** One-time token lifetimes in seconds. @default 300 / 3600 / 300 */
  MERIDIAN_APPLICATION_TOKEN_TTL: seconds.default(300),
  MERIDIAN_RUNTIME_TOKEN_TTL: seconds.default(3600),
  MERIDIAN_CSR_TOKEN_TTL: seconds.default(300),
  /**
   * Let calls made on a user's behalf (spec fetches, webhook deliveries, runtime gateway calls to a
   * targetUrl or tokenUrl) reach loopback and private addresses; link-local, metadata and reserved
   * addresses stay refused. @default false
   */
  MERIDIAN_OUTBOUND_ALLOW_PRIVATE: boolean.optional(),
  /** @deprecated The earlier name of MERIDIAN_OUTBOUND_ALLOW_PRIVATE, read when that is unset. */
  MERIDIAN_SPEC_FETCH_ALLOW_PRIVATE: boolean.optional(),
  /** Timeout of one spec fetch attempt. @default 10000 */
  MERIDIAN_SPEC_FETCH_TIMEOUT_MS: z.coerce.number().int().min(100, 'must be 100-60000 ms').max(60_000, 'must be 100-60000 ms').default(10_000),
  /** How long a registration request waits for the result before answering 202 with the operation. @default 5000 */
  MERIDIAN_REGISTRATION_WAIT_MS: z.coerce.number().int().min(0, 'must be 0-30000 ms').max(30_000, 'must be 0-30000 ms').default(5_000),
  /**
   * How long validating one spec may take; then its thread is terminated and the definition is FAILED.
   * At most 30: the registration activity (fetch and validation) has one minute. @default 10
   */
  MERIDIAN_SPEC_VALIDATION_TIMEOUT_SECONDS: z.coerce.number().int().min(1, 'must be 1-30 seconds').max(30, 'must be 1-30 seconds').default(10),
  /** API and event definitions one application may have, together; one more is refused with 409. @default 200 */
  MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION: z.coerce.number().int().min(1, 'must be 1-10000').max(10_000, 'must be 1-10000').default(200),
  /** Webhooks one application may have; one more is refused with 409. @default 20 */
  MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION: z.coerce.number().int().min(1, 'must be 1-1000').max(1000, 'must be 1-1000').default(20),
  /** Days an UNUSED credential slot is kept (so the application sees what went away) before the reconciler removes it. @default 30 */
  MERIDIAN_UNUSED_SLOT_RETENTION_DAYS: z.coerce.number().int().min(1, 'must be 1-3650 days').max(3650, 'must be 1-3650 days').default(30),
  /** Days an audit trail entry is kept before the reconciler removes it. @default 90 */
  MERIDIAN_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1, 'must be 1-3650 days').max(3650, 'must be 1-3650 days').default(DEFAULT_AUDIT_RETENTION_DAYS),
  /** AES-256-GCM key (base64 of 32 bytes) for secrets at rest; generated into the data directory when unset. */
  MERIDIAN_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32 && /^[A-Za-z0-9+/]+=*$/.test(v), 'must be base64 of exactly 32 bytes')
    .optional(),
  /** Earlier encryption keys that still decrypt (comma-separated base64) while `meridian keys rotate` re-encrypts. */
  MERIDIAN_ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .refine((v) => v.split(',').every((k) => Buffer.from(k, 'base64').length === 32 && /^[A-Za-z0-9+/]+=*$/.test(k)), 'must be comma-separated base64 keys of 32 bytes')
    .optional(),
  /** Whether a configuration change sends the affected runtime agents a hint to fetch at once (else they wait for their poll). @default true */
  MERIDIAN_CONFIG_HINTS: boolean.default(true),
  /**
   * How new runtime agents keep their configuration current: `watch` (a long-running activity that
   * long-polls the API; Temporal is involved only on a change, a renewal or once an hour) or `poll`
   * (a workflow timer and a workflow task per poll, with configChanged signals as hints). @default watch
   */
  MERIDIAN_AGENT_DESIGN: z.enum(['watch', 'poll']).default('watch'),
  /** Stage timeouts of runtime provisioning: the provider's work, then the agent's first CONNECTED report. @default 600 / 900 */
  MERIDIAN_PROVISION_TIMEOUT_SECONDS: z.coerce.number().int().min(10, 'must be 10-86400 seconds').max(86400, 'must be 10-86400 seconds').default(600),
  MERIDIAN_AGENT_CONNECT_TIMEOUT_SECONDS: z.coerce.number().int().min(10, 'must be 10-86400 seconds').max(86400, 'must be 10-86400 seconds').default(900),
  /** How long deprovisioning retries the provider (and stopping the agent) before it ends FAILED with the reason. @default 600 */
  MERIDIAN_DEPROVISION_TIMEOUT_SECONDS: z.coerce.number().int().min(10, 'must be 10-86400 seconds').max(86400, 'must be 10-86400 seconds').default(600),
  /** A CONNECTED runtime that has not called Meridian for this long (or three of its poll intervals, when longer) counts as stale in the overview. @default 180 */
  MERIDIAN_RUNTIME_STALE_SECONDS: z.coerce.number().int().min(30, 'must be 30-86400 seconds').max(86400, 'must be 30-86400 seconds').default(180),
  /**
   * Poll intervals a CONNECTED runtime may miss (plus the API's 15 s of recording lag) before the
   * reconciler marks it UNREACHABLE; its next call makes it CONNECTED again. @default 3
   */
  MERIDIAN_UNREACHABLE_AFTER_INTERVALS: z.coerce.number().int().min(2, 'must be 2-100').max(100, 'must be 2-100').default(DEFAULT_UNREACHABLE_AFTER_INTERVALS),
  /** Whether a worker process starts the reconciler at boot, unless it is running (docs/architecture.md, "Durable intent"). @default true */
  MERIDIAN_RECONCILER: boolean.default(true),
  /** Whether `npm start` runs the runtime host for simulated runtimes in its worker process. @default true */
  MERIDIAN_RUNTIME_HOST: boolean.default(true),
  /** Port of the standalone runtime host's gateway (events, `/healthz`), on 127.0.0.1; 0 picks a free one. @default 0 */
  MERIDIAN_RUNTIME_HOST_PORT: port.default(0),
  /** PostgreSQL connections of one API or worker process (`npm start`: of its API and worker together). @default 20 */
  MERIDIAN_DB_POOL_SIZE: z.coerce.number().int().min(2, 'must be 2-100').max(100, 'must be 2-100').default(20),
  /** Task queue of the management-plane worker. @default meridian */
  MERIDIAN_TASK_QUEUE: z.string().min(1).default('meridian'),
  /** Port where a standalone worker serves Prometheus metrics; 0 disables. @default 9464 */
  MERIDIAN_WORKER_METRICS_PORT: port.default(9464),
  /** Bootstrap admin token of the default tenant; generated once when unset. */
  MERIDIAN_ADMIN_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Trust X-Forwarded-* headers from a reverse proxy. @default false */
  MERIDIAN_TRUST_PROXY: boolean.default(false),
  /**
   * Requests one API process works on at once (held configuration long polls not counted); more are answered
   * 429 with Retry-After at once. 0 admits every request. @default 200
   */
  MERIDIAN_MAX_REQUESTS_IN_FLIGHT: z.coerce
    .number()
    .int('must be a whole number (0 = no limit, or 1-100000)')
    .min(0, 'must be 0 (no limit) or 1-100000')
    .max(100_000, 'must be 0 (no limit) or 1-100000')
    .default(DEFAULT_MAX_REQUESTS_IN_FLIGHT),
  /** pino level. @default info */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

type Env = z.infer<typeof schema>;

export interface TemporalTlsConfig {
  certFile: string;
  keyFile: string;
  caFile?: string;
  serverName?: string;
}

export interface ConnectorConfig {
  /** L, ST, C appended to every issued subject. */
  subjectExtras: { L: string; ST: string; C: string };
  validityDays: number;
  /** How long the certificate a renewal replaced keeps working, so that calls in flight finish (MERIDIAN_RENEWAL_OVERLAP_SECONDS). @default 600 */
  renewalOverlapSeconds: number;
  /** One-time token lifetimes in seconds by purpose. */
  ttl: { application: number; runtime: number; csr: number };
}

/** What a paired application registers: API and event definitions (their specs fetched and validated) and webhooks. */
export interface RegistrationConfig {
  fetchTimeoutMs: number;
  /** How long `POST …/apis` waits for the registration result before answering 202. */
  waitMs: number;
  /** How long validating one spec may take (MERIDIAN_SPEC_VALIDATION_TIMEOUT_SECONDS). */
  validationTimeoutMs: number;
  /** APIs and events of one application, together (MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION). */
  maxDefinitionsPerApplication: number;
  /** Webhooks of one application (MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION). */
  maxWebhooksPerApplication: number;
}

/** How long credential slots that no longer serve a pair are kept. */
export interface CredentialSlotsConfig {
  /** Days an UNUSED slot is kept before the reconciler removes it (MERIDIAN_UNUSED_SLOT_RETENTION_DAYS). */
  unusedRetentionDays: number;
}

/** How long the audit trail keeps its entries. */
export interface AuditConfig {
  /** Days an entry is kept before the reconciler removes it (MERIDIAN_AUDIT_RETENTION_DAYS). */
  retentionDays: number;
}

/** When a CONNECTED runtime that stopped calling becomes UNREACHABLE (db/liveness.ts). */
export interface LivenessConfig {
  /** Poll intervals it may miss (MERIDIAN_UNREACHABLE_AFTER_INTERVALS). */
  unreachableAfterIntervals: number;
  /**
   * How late an API process may record a call, added to the missed intervals: its last-seen flush
   * interval (tests flush faster). @default 15
   */
  recordingLagSeconds?: number;
}

/** What calls made on a user's behalf may reach (lib/outbound.ts). */
export interface OutboundConfig {
  /** Loopback and private addresses too (MERIDIAN_OUTBOUND_ALLOW_PRIVATE). */
  allowPrivate: boolean;
}

export interface ProvisioningConfig {
  provisionTimeoutMs: number;
  agentTimeoutMs: number;
  /** How the agents of new runtimes keep their configuration current (MERIDIAN_AGENT_DESIGN). */
  agentDesign: 'watch' | 'poll';
  /** How long deprovisioning (and a provisioning's compensation) retries the provider before giving up. */
  deprovisionTimeoutMs: number;
}

export interface Config {
  dataDir: string;
  databaseUrl?: string;
  /** PostgreSQL connections of this process (MERIDIAN_DB_POOL_SIZE). */
  databasePoolSize: number;
  embeddedPostgresPort: number;
  temporal: { address: string; namespace: string; tls?: TemporalTlsConfig; uiPort: number; uiUrl?: string; startDevServer: boolean };
  http: { host: string; port: number; trustProxy: boolean; mtlsPort: number; publicUrl?: string; mtlsUrl?: string; tlsHostnames: string[] };
  ca: { dataDir: string; certFile?: string; keyFile?: string };
  connector: ConnectorConfig;
  registration: RegistrationConfig;
  credentialSlots: CredentialSlotsConfig;
  audit: AuditConfig;
  liveness: LivenessConfig;
  outbound: OutboundConfig;
  provisioning: ProvisioningConfig;
  encryptionKey?: string;
  previousEncryptionKeys?: string;
  /** Hint runtime agents on configuration changes. */
  configHints: boolean;
  runtimeStaleSeconds: number;
  /** Requests one API process admits at once; 0: every request (MERIDIAN_MAX_REQUESTS_IN_FLIGHT). */
  maxRequestsInFlight: number;
  taskQueue: string;
  /** Start the reconciler at worker boot. */
  reconciler: boolean;
  runtimeHost: boolean;
  /** Gateway port of a standalone runtime host; 0 picks a free one. */
  runtimeHostPort: number;
  workerMetricsPort: number;
  adminToken?: string;
  logLevel: Env['LOG_LEVEL'];
}

/** Parses the environment once; throws {@link ConfigError} naming the first bad variable and its rule. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(defined);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(`${name}: ${issue?.message ?? 'invalid value'}`);
  }
  const e = parsed.data;
  if (Boolean(e.MERIDIAN_CA_CERT_FILE) !== Boolean(e.MERIDIAN_CA_KEY_FILE)) {
    throw new ConfigError('MERIDIAN_CA_CERT_FILE: must be set together with MERIDIAN_CA_KEY_FILE');
  }
  const tlsFiles = [e.TEMPORAL_TLS_CERT_FILE, e.TEMPORAL_TLS_KEY_FILE];
  if (tlsFiles.some(Boolean) && !tlsFiles.every(Boolean)) {
    throw new ConfigError('TEMPORAL_TLS_CERT_FILE: must be set together with TEMPORAL_TLS_KEY_FILE');
  }
  return {
    dataDir: path.resolve(e.MERIDIAN_DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.MERIDIAN_DB_POOL_SIZE,
    embeddedPostgresPort: e.MERIDIAN_PG_PORT,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      uiPort: e.TEMPORAL_UI_PORT,
      uiUrl: e.MERIDIAN_TEMPORAL_UI_URL,
      startDevServer: e.MERIDIAN_START_TEMPORAL,
      tls:
        e.TEMPORAL_TLS_CERT_FILE && e.TEMPORAL_TLS_KEY_FILE
          ? {
              certFile: e.TEMPORAL_TLS_CERT_FILE,
              keyFile: e.TEMPORAL_TLS_KEY_FILE,
              caFile: e.TEMPORAL_TLS_CA_FILE,
              serverName: e.TEMPORAL_TLS_SERVER_NAME,
            }
          : undefined,
    },
    http: {
      host: e.MERIDIAN_HOST,
      port: e.MERIDIAN_HTTP_PORT,
      trustProxy: e.MERIDIAN_TRUST_PROXY,
      mtlsPort: e.MERIDIAN_MTLS_PORT,
      publicUrl: e.MERIDIAN_PUBLIC_URL,
      mtlsUrl: e.MERIDIAN_MTLS_URL,
      tlsHostnames: e.MERIDIAN_TLS_HOSTNAMES.split(','),
    },
    ca: { dataDir: path.resolve(e.MERIDIAN_DATA_DIR), certFile: e.MERIDIAN_CA_CERT_FILE, keyFile: e.MERIDIAN_CA_KEY_FILE },
    connector: {
      subjectExtras: { L: e.MERIDIAN_CERT_LOCALITY, ST: e.MERIDIAN_CERT_PROVINCE, C: e.MERIDIAN_CERT_COUNTRY },
      validityDays: e.MERIDIAN_CERT_VALIDITY_DAYS,
      renewalOverlapSeconds: e.MERIDIAN_RENEWAL_OVERLAP_SECONDS,
      ttl: { application: e.MERIDIAN_APPLICATION_TOKEN_TTL, runtime: e.MERIDIAN_RUNTIME_TOKEN_TTL, csr: e.MERIDIAN_CSR_TOKEN_TTL },
    },
    registration: {
      fetchTimeoutMs: e.MERIDIAN_SPEC_FETCH_TIMEOUT_MS,
      waitMs: e.MERIDIAN_REGISTRATION_WAIT_MS,
      validationTimeoutMs: e.MERIDIAN_SPEC_VALIDATION_TIMEOUT_SECONDS * 1000,
      maxDefinitionsPerApplication: e.MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION,
      maxWebhooksPerApplication: e.MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION,
    },
    credentialSlots: { unusedRetentionDays: e.MERIDIAN_UNUSED_SLOT_RETENTION_DAYS },
    audit: { retentionDays: e.MERIDIAN_AUDIT_RETENTION_DAYS },
    liveness: { unreachableAfterIntervals: e.MERIDIAN_UNREACHABLE_AFTER_INTERVALS },
    outbound: { allowPrivate: e.MERIDIAN_OUTBOUND_ALLOW_PRIVATE ?? e.MERIDIAN_SPEC_FETCH_ALLOW_PRIVATE ?? false },
    provisioning: {
      provisionTimeoutMs: e.MERIDIAN_PROVISION_TIMEOUT_SECONDS * 1000,
      agentTimeoutMs: e.MERIDIAN_AGENT_CONNECT_TIMEOUT_SECONDS * 1000,
      agentDesign: e.MERIDIAN_AGENT_DESIGN,
      deprovisionTimeoutMs: e.MERIDIAN_DEPROVISION_TIMEOUT_SECONDS * 1000,
    },
    encryptionKey: e.MERIDIAN_ENCRYPTION_KEY,
    previousEncryptionKeys: e.MERIDIAN_ENCRYPTION_PREVIOUS_KEYS,
    configHints: e.MERIDIAN_CONFIG_HINTS,
    runtimeStaleSeconds: e.MERIDIAN_RUNTIME_STALE_SECONDS,
    maxRequestsInFlight: e.MERIDIAN_MAX_REQUESTS_IN_FLIGHT,
    taskQueue: e.MERIDIAN_TASK_QUEUE,
    reconciler: e.MERIDIAN_RECONCILER,
    runtimeHost: e.MERIDIAN_RUNTIME_HOST,
    runtimeHostPort: e.MERIDIAN_RUNTIME_HOST_PORT,
    workerMetricsPort: e.MERIDIAN_WORKER_METRICS_PORT,
    adminToken: e.MERIDIAN_ADMIN_TOKEN,
    logLevel: e.LOG_LEVEL,
  };
}

/** The public base URL runtimes and applications are told to use. */
export const publicUrl = (config: Config) => config.http.publicUrl ?? `http://localhost:${config.http.port}`;
