import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Runtime, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { MtlsClient, loadCredentials, newKey, requestCertificate, requestSigning, saveCredentials, type MtlsResponse, type SigningRequest } from '../client/connector.js';
import { modulePath } from '../lib/modules.js';
import { runtimeFiles, writeAtomically, type Injection } from './files.js';

/** The agent workflow's source: what a runtime's agent worker runs next to {@link createAgentActivities}. */
export const AGENT_WORKFLOWS = modulePath('../workflows/agent', import.meta.url);

let agentBundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** {@link AGENT_WORKFLOWS} bundled once per process, so a worker created again (see runtime/supervise.ts) does not bundle again. */
export function agentWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  agentBundle ??= bundleWorkflowCode({ workflowsPath: AGENT_WORKFLOWS, logger: Runtime.instance().logger }).catch((error: unknown) => {
    agentBundle = undefined;
    throw error;
  });
  return agentBundle;
}

/**
 * Worker options every agent worker (runtime host, local runtime) shares: a watch heartbeats at most every
 * 4 minutes (80 % of its 5-minute heartbeat timeout, workflows/agent.ts), and every watched runtime holds an
 * activity slot for as long as its watch runs.
 */
export const AGENT_WORKER_OPTIONS = {
  maxHeartbeatThrottleInterval: '4 minutes',
  maxConcurrentActivityTaskExecutions: 20_000,
} as const;

/** Attempts of one configuration request in a watch before the watch ends with the failure. */
const WATCH_ATTEMPTS = 3;

/** What a benchmark or a test hears of the agents' work: each configuration answer, each applied version. */
export interface AgentObserver {
  fetched?(runtimeId: string, status: number): void;
  applied?(runtimeId: string, configVersion: number): void;
}

export interface CertificateLife {
  notBefore: string;
  notAfter: string;
}

export interface SyncResult {
  changed: boolean;
  /** When the answer arrived (a watch: the last of its answers). */
  fetchedAt?: string;
  /** A watch that ended on a failed fetch: what failed (the workflow backs off, visibly in `status`). */
  error?: string;
  configVersion?: number;
  etag?: string;
  /** SHA-256 of what was applied, so history shows that something changed without showing it. */
  digest?: string;
  applications?: number;
}

const lifeOf = (pem: string): CertificateLife => {
  const cert = new X509Certificate(pem);
  return { notBefore: new Date(cert.validFrom).toISOString(), notAfter: new Date(cert.validTo).toISOString() };
};

/**
 * The runtime agent's activities. They run next to the runtime (its own process for `local`, the
 * runtime host for `simulated`), hold its key and certificate, and return only versions and digests.
 */
export function createAgentActivities({ root, eventUrl, observer }: { root: string; eventUrl: (runtimeId: string) => string; observer?: AgentObserver }) {
  const fetched = (runtimeId: string, res: MtlsResponse) => {
    observer?.fetched?.(runtimeId, res.status);
    return res;
  };
  const client = (runtimeId: string) => new MtlsClient(loadCredentials(runtimeFiles(root, runtimeId).credentials));

  /** A configuration answer other than 304: applied (written) unless that version already is, and summed up. */
  const applied = (runtimeId: string, res: MtlsResponse): SyncResult => {
    if (res.status === 401) throw ApplicationFailure.nonRetryable('the runtime certificate was refused', 'CertificateRefused');
    if (res.status !== 200) throw new Error(`configuration: HTTP ${res.status}`);
    const text = JSON.stringify(res.body);
    const file = runtimeFiles(root, runtimeId).applied;
    const digest = createHash('sha256').update(text).digest('hex');
    const current = fs.existsSync(file) ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : undefined;
    if (current !== digest) {
      writeAtomically(file, text);
      observer?.applied?.(runtimeId, res.body.configVersion);
    }
    return { changed: true, configVersion: res.body.configVersion, etag: String(res.headers.etag ?? ''), digest, applications: res.body.applications.length };
  };

  return {
    /**
     * Key, CSR and certificate with the injected one-time token. Each step's result is kept before the
     * next step (CSR token, then key), so a retried attempt resumes instead of reusing a spent token.
     */
    async connectRuntime({ runtimeId }: { runtimeId: string }): Promise<CertificateLife> {
      const files = runtimeFiles(root, runtimeId);
      if (fs.existsSync(path.join(files.credentials, 'client.crt'))) {
        return lifeOf(fs.readFileSync(path.join(files.credentials, 'client.crt'), 'utf8'));
      }
      let injection = JSON.parse(fs.readFileSync(files.injected, 'utf8')) as Injection & { signing?: SigningRequest };
      const rejected = (error: Error & { status?: number }) => {
        if (error.status === 401) throw ApplicationFailure.nonRetryable('the injected token is invalid or expired', 'TokenRejected');
        throw error;
      };
      if (!injection.signing) {
        if (!injection.token) throw ApplicationFailure.nonRetryable('no connector token was injected', 'NotInjected');
        const signing = await requestSigning(injection.connectorUrl, injection.token).catch(rejected);
        injection = { ...injection, token: undefined, signing };
        writeAtomically(files.injected, JSON.stringify(injection));
      }
      if (!fs.existsSync(files.pendingKey)) writeAtomically(files.pendingKey, (await newKey()).export({ type: 'pkcs8', format: 'pem' }).toString());
      const credentials = await requestCertificate(injection.signing!, createPrivateKey(fs.readFileSync(files.pendingKey, 'utf8'))).catch(rejected);
      saveCredentials(files.credentials, credentials);
      writeAtomically(files.injected, JSON.stringify({ ...injection, signing: undefined }));
      fs.rmSync(files.pendingKey, { force: true });
      return lifeOf(credentials.certificate);
    },

    /** Tells Meridian the runtime is CONNECTED and where it takes events. */
    async reportConnected({ runtimeId }: { runtimeId: string }): Promise<{ eventUrl: string }> {
      const mtls = client(runtimeId);
      try {
        const url = eventUrl(runtimeId);
        const res = await mtls.request('PUT', '/v1/runtime/status', { condition: 'CONNECTED', eventUrl: url, gatewayUrl: url.replace(/\/events$/, '/gateway') });
        if (res.status !== 200) throw new Error(`status report: HTTP ${res.status} ${res.body?.detail ?? ''}`);
        return { eventUrl: url };
      } finally {
        mtls.close();
      }
    },

    /** Fetches the configuration with If-None-Match and applies it when it changed. */
    async syncConfiguration({ runtimeId, etag }: { runtimeId: string; etag?: string }): Promise<SyncResult> {
      const mtls = client(runtimeId);
      try {
        const res = fetched(runtimeId, await mtls.request('GET', '/v1/runtime/configuration', undefined, etag ? { 'if-none-match': etag } : {}));
        if (res.status === 304) return { changed: false, etag };
        return applied(runtimeId, res);
      } finally {
        mtls.close();
      }
    },

    /**
     * The `watch` design's wait (workflows/agent.ts): long-polls the configuration (`Prefer: wait`, one
     * poll interval at a time) until it changed (applied, then returned), the renewal is due, `runMs`
     * passed, or a fetch failed {@link WATCH_ATTEMPTS} times in a row (returned as `error`, so the
     * workflow's backoff shows in `status`). The ETag goes into every heartbeat, so a re-run after a
     * crash goes on from the last answer; a version already applied is not written again. An API that
     * does not hold the request (no `Preference-Applied`) is polled every interval instead.
     */
    async watchConfiguration(input: { runtimeId: string; etag?: string; pollIntervalMs: number; renewAt?: number; runMs: number }): Promise<SyncResult> {
      const context = Context.current();
      const until = Math.min(Date.now() + input.runMs, input.renewAt ?? Infinity);
      const etag = (context.info.heartbeatDetails as { etag?: string } | undefined)?.etag ?? input.etag;
      let fetchedAt: string | undefined;
      let failures = 0;
      const mtls = client(input.runtimeId);
      try {
        for (;;) {
          const left = until - Date.now();
          if (left <= 0 || context.cancellationSignal.aborted) return { changed: false, etag, fetchedAt };
          const wait = Math.max(1, Math.ceil(Math.min(input.pollIntervalMs, left) / 1000));
          const asked = Date.now();
          const res = await mtls
            .request('GET', '/v1/runtime/configuration', undefined, { ...(etag && { 'if-none-match': etag }), prefer: `wait=${wait}` }, context.cancellationSignal)
            .then((answer) => fetched(input.runtimeId, answer))
            .catch((error: Error) => {
              if (context.cancellationSignal.aborted) throw error;
              return error;
            });
          // Meridian busy for a moment (a fan-out to thousands of runtimes) or a dropped connection: asked
          // again after 1, 2 s before the workflow hears of it and backs off for a poll interval or more.
          if (res instanceof Error || res.status === 503) {
            if (++failures >= WATCH_ATTEMPTS) return { changed: false, etag, fetchedAt, error: res instanceof Error ? res.message : 'configuration: HTTP 503' };
            await context.sleep(1000 * 2 ** (failures - 1));
            continue;
          }
          failures = 0;
          fetchedAt = new Date().toISOString();
          context.heartbeat({ etag });
          if (res.status !== 304) return { ...applied(input.runtimeId, res), fetchedAt };
          if (!res.headers['preference-applied']) await context.sleep(Math.max(0, wait * 1000 - (Date.now() - asked))).catch(() => undefined);
        }
      } catch (error) {
        if (error instanceof ApplicationFailure || context.cancellationSignal.aborted) throw error;
        return { changed: false, etag, fetchedAt, error: (error as Error).message };
      } finally {
        mtls.close();
      }
    },

    /** A new key and certificate for the same subject; the old key is replaced only once the new certificate is in hand. */
    async renewCertificate({ runtimeId }: { runtimeId: string }): Promise<CertificateLife> {
      const files = runtimeFiles(root, runtimeId);
      const mtls = client(runtimeId);
      try {
        const renewed = await mtls.renew();
        saveCredentials(files.credentials, renewed);
        return lifeOf(renewed.certificate);
      } finally {
        mtls.close();
      }
    },
  };
}

export type AgentActivities = ReturnType<typeof createAgentActivities>;
