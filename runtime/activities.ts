import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { Runtime, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { MtlsClient, loadCredentials, newKey, requestCertificate, requestSigning, saveCredentials, type SigningRequest } from '../client/connector.js';
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

export interface CertificateLife {
  notBefore: string;
  notAfter: string;
}

export interface SyncResult {
  changed: boolean;
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
export function createAgentActivities({ root, eventUrl }: { root: string; eventUrl: (runtimeId: string) => string }) {
  const client = (runtimeId: string) => new MtlsClient(loadCredentials(runtimeFiles(root, runtimeId).credentials));

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
        const res = await mtls.request('GET', '/v1/runtime/configuration', undefined, etag ? { 'if-none-match': etag } : {});
        if (res.status === 304) return { changed: false, etag };
        if (res.status === 401) throw ApplicationFailure.nonRetryable('the runtime certificate was refused', 'CertificateRefused');
        if (res.status !== 200) throw new Error(`configuration: HTTP ${res.status}`);
        const text = JSON.stringify(res.body);
        writeAtomically(runtimeFiles(root, runtimeId).applied, text);
        return {
          changed: true,
          configVersion: res.body.configVersion,
          etag: String(res.headers.etag ?? ''),
          digest: createHash('sha256').update(text).digest('hex'),
          applications: res.body.applications.length,
        };
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
