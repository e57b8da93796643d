import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Runtime, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { MtlsClient, loadCredentials, newKey, requestCertificate, requestSigning, retryAfterMs, saveCredentials, trustChange, type MtlsResponse, type SigningRequest } from '../client/connector.js';
import { modulePath } from '../lib/modules.js';
import { readJson, runtimeFiles, writeAtomically, type Injection, type RuntimeFiles } from './files.js';

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

/** How long a poll (`syncConfiguration`, a local activity of one minute) asks again while Meridian sheds it (429). */
const SHED_BUDGET_MS = 30_000;

/**
 * The wait before a watch asks again after its `failures`-th failure in a row: 1 s, then 2 s, each drawn
 * from half to one and a half times that, so that the watches a restart of the API broke all at once do
 * not all ask again in the same instant.
 */
export const watchRetryMs = (failures: number, random = Math.random) => Math.round(1000 * 2 ** (failures - 1) * (0.5 + random()));

/** What a benchmark or a test hears of the agents' work: each configuration answer, each applied version. */
export interface AgentObserver {
  fetched?(runtimeId: string, status: number): void;
  /** A configuration request of a watch that got no answer (connection refused or reset). */
  unanswered?(runtimeId: string, error: Error): void;
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
  /** The certificate was not signed by the CA that signs new ones (a CA rotation is under way): renew it now. */
  renew?: boolean;
  applications?: number;
}

/** `injected.json` while the token is being exchanged: the signing request's answer replaces the token. */
type PendingInjection = Injection & { signing?: SigningRequest };

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

  /** A configuration's trust bundle becomes the runtime's (a CA rotation); says whether to renew under the new CA. */
  const adoptTrust = (runtimeId: string, configuration: { trustBundle?: string; issuingCa?: string }) => {
    const dir = runtimeFiles(root, runtimeId).credentials;
    const change = trustChange(loadCredentials(dir), configuration);
    if (change.trust) writeAtomically(path.join(dir, 'ca.crt'), change.trust.caCertificate, 0o644);
    return change;
  };

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
    const { renew } = adoptTrust(runtimeId, res.body);
    return { changed: true, configVersion: res.body.configVersion, etag: String(res.headers.etag ?? ''), digest, applications: res.body.applications.length, ...(renew && { renew }) };
  };

  /**
   * The Connector exchange with the injected one-time token: signing request, key, CSR, certificate. Each
   * step's result is kept before the next step (CSR token, then key), so a retried attempt resumes instead
   * of reusing a spent token.
   */
  const exchangeInjection = async (files: RuntimeFiles): Promise<CertificateLife> => {
    let injection = JSON.parse(fs.readFileSync(files.injected, 'utf8')) as PendingInjection;
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
      return exchangeInjection(files);
    },

    /**
     * After the runtime's certificate was refused (expired, or revoked, while it was stopped say): a new key
     * and certificate with the fresh one-time token Meridian's recovery injected through the provider
     * (workflows/recovery.ts); the refused credentials are replaced once the new certificate is in hand.
     * Until a token is injected it fails with `NotInjected`, retried by the agent's retry policy, unless
     * Meridian accepts the current certificate again (the refusal passed: it is kept); a token that is
     * refused (expired, or used) is dropped, so that the next attempt waits for a fresh one.
     */
    async reconnectRuntime({ runtimeId }: { runtimeId: string }): Promise<CertificateLife> {
      const files = runtimeFiles(root, runtimeId);
      const injection = readJson<PendingInjection>(files.injected);
      if (!injection?.token && !injection?.signing) {
        const mtls = client(runtimeId);
        try {
          const res = await mtls.request('GET', '/v1/runtime').catch((error: Error) => ({ status: 0, error }));
          if (res.status === 200) return lifeOf(mtls.credentials.certificate);
        } finally {
          mtls.close();
        }
        throw ApplicationFailure.retryable('the runtime certificate is refused and no fresh connector token was injected yet', 'NotInjected');
      }
      try {
        return await exchangeInjection(files);
      } catch (error) {
        if (!(error instanceof ApplicationFailure && error.type === 'TokenRejected')) throw error;
        // Dropped only if it is still the token that was refused: a fresh injection meanwhile stays.
        const now = readJson<PendingInjection>(files.injected);
        if (now && now.token === injection.token) writeAtomically(files.injected, JSON.stringify({ ...now, token: undefined, signing: undefined }));
        fs.rmSync(files.pendingKey, { force: true });
        throw ApplicationFailure.retryable(`${error.message}; waiting for a fresh one`, 'TokenRejected');
      }
    },

    /** Tells Meridian the runtime is CONNECTED and where it takes events. */
    async reportConnected({ runtimeId }: { runtimeId: string }): Promise<{ eventUrl: string }> {
      const mtls = client(runtimeId);
      try {
        const url = eventUrl(runtimeId);
        // Asked again after Retry-After while Meridian sheds it (429) or a dependency is down (503): the report is idempotent.
        const res = await mtls.requestUntilAnswered('PUT', '/v1/runtime/status', { condition: 'CONNECTED', eventUrl: url, gatewayUrl: url.replace(/\/events$/, '/gateway') });
        if (res.status !== 200) throw new Error(`status report: HTTP ${res.status} ${res.body?.detail ?? ''}`);
        return { eventUrl: url };
      } finally {
        mtls.close();
      }
    },

    /**
     * Fetches the configuration with If-None-Match and applies it when it changed. A request Meridian
     * sheds (429) is asked again after its Retry-After, for up to {@link SHED_BUDGET_MS}; any other failure
     * is the workflow's to back off from.
     */
    async syncConfiguration({ runtimeId, etag }: { runtimeId: string; etag?: string }): Promise<SyncResult> {
      const mtls = client(runtimeId);
      try {
        const ask = async () => fetched(runtimeId, await mtls.request('GET', '/v1/runtime/configuration', undefined, etag ? { 'if-none-match': etag } : {}));
        const giveUpAt = Date.now() + SHED_BUDGET_MS;
        let res = await ask();
        for (let wait = retryAfterMs(res.headers['retry-after']); res.status === 429 && Date.now() + wait < giveUpAt; wait = retryAfterMs(res.headers['retry-after'])) {
          await new Promise((resolve) => setTimeout(resolve, wait));
          res = await ask();
        }
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
     * workflow's backoff shows in `status`); a shed request (429) is asked again after its Retry-After
     * and is no failure. The ETag goes into every heartbeat, so a re-run after a
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
              observer?.unanswered?.(input.runtimeId, error);
              return error;
            });
          // Shed (429): Meridian is up but admits no more requests at the moment. Not a failure: asked again
          // after its Retry-After (spread by the API and here), for as long as the watch runs.
          if (!(res instanceof Error) && res.status === 429) {
            context.heartbeat({ etag });
            await context.sleep(Math.min(retryAfterMs(res.headers['retry-after']), Math.max(0, until - Date.now())));
            continue;
          }
          // Meridian busy for a moment (a fan-out to thousands of runtimes) or a dropped connection (the API
          // restarting): asked again after about 1, 2 s (spread, see watchRetryMs) before the workflow hears
          // of it and backs off for a poll interval or more.
          if (res instanceof Error || res.status === 503) {
            if (++failures >= WATCH_ATTEMPTS) return { changed: false, etag, fetchedAt, error: res instanceof Error ? res.message : 'configuration: HTTP 503' };
            await context.sleep(watchRetryMs(failures));
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
        const renewed = await mtls.renew().catch((error: Error & { status?: number }) => {
          // Expired or revoked: no renewal can help; the workflow recovers with a fresh token instead.
          if (error.status === 401) throw ApplicationFailure.nonRetryable(`the runtime certificate was refused: ${error.message}`, 'CertificateRefused');
          throw error;
        });
        saveCredentials(files.credentials, renewed);
        return lifeOf(renewed.certificate);
      } finally {
        mtls.close();
      }
    },
  };
}

export type AgentActivities = ReturnType<typeof createAgentActivities>;
