import { Context, ApplicationFailure } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { revokeCertificatesOf } from '../db/certificates.js';
import { setOperation } from '../db/operations.js';
import { deleteRuntime, runtimeFacts, setRuntimeCondition, type Provider, type RuntimeFacts } from '../db/runtimes.js';
import { invalidateTokens, issueToken } from '../db/tokens.js';
import { withTransaction } from '../db/tx.js';
import { loadConfig, type ConnectorConfig, type ProvisioningConfig } from '../lib/config.js';
import { open, seal, type Keyring } from '../trust/encryption.js';
import { workflowId } from '../workflows/ids.js';
import type { RuntimeProvider } from './providers/provider.js';

export interface ProvisioningDeps {
  pool: pg.Pool;
  keyring: Keyring;
  connector: ConnectorConfig;
  providers: Record<Provider, RuntimeProvider>;
  /** The API's public base URL, which runtimes use to reach the Connector. */
  publicUrl: () => string;
  /** Terminates agent workflows when a runtime goes away. */
  temporal: Client;
  /** Stage timeouts; the reconciler starts provisionings with them, compensation gives up after `deprovisionTimeoutMs`. @default the configuration's defaults */
  provisioning?: ProvisioningConfig;
}

/** The provisioning settings of `deps`, else the configuration's defaults. */
export const provisioningConfig = (deps: { provisioning?: ProvisioningConfig }): ProvisioningConfig => deps.provisioning ?? loadConfig({}).provisioning;

export interface RuntimeInput {
  tenantId: string;
  runtimeId: string;
  provider: Provider;
}

/**
 * Conditions a provisioning step does not move a runtime back from. Its quick steps are local
 * activities (workflows/provisioning.ts), which run again when their workflow task times out: a late
 * copy of an earlier step must not undo a later one.
 */
const AHEAD_OF: Record<string, string[]> = { PROVISIONING: ['CONNECTING', 'CONNECTED', 'UNREACHABLE'], CONNECTING: ['CONNECTED', 'UNREACHABLE'] };

/** Activities of runtime provisioning and deprovisioning; they drive a provider and keep the records. */
export function createProvisioningActivities(deps: ProvisioningDeps) {
  const { pool, providers } = deps;
  const ref = (input: RuntimeInput) => ({ runtimeId: input.runtimeId, tenantId: input.tenantId });

  return {
    async markRuntime({ runtimeId, condition, operationId, stage }: { runtimeId: string; condition: string; operationId: string; stage: string }) {
      await withTransaction(pool, async (client) => {
        await setRuntimeCondition(client, runtimeId, condition, null, AHEAD_OF[condition]);
        await setOperation(client, operationId, stage);
      });
    },

    async runtimeFacts({ runtimeId }: { runtimeId: string }): Promise<RuntimeFacts> {
      const facts = await runtimeFacts(pool, runtimeId);
      if (!facts) throw ApplicationFailure.nonRetryable('the runtime no longer exists', 'NotFound');
      return facts;
    },

    /** A runtime one-time token, returned only sealed with the encryption key so history never holds it. */
    async issueRuntimeToken({ tenantId, runtimeId }: RuntimeInput): Promise<{ sealed: string; keyId: string; expiresAt: string }> {
      const { token, expiresAt } = await issueToken(pool, { tenantId, objectKind: 'runtime', objectId: runtimeId, purpose: 'runtime' }, deps.connector.ttl.runtime);
      const sealed = seal(deps.keyring, token);
      return { sealed: sealed.ciphertext.toString('base64'), keyId: sealed.keyId, expiresAt: expiresAt.toISOString() };
    },

    async provisionRuntime(input: RuntimeInput): Promise<{ taskQueue: string }> {
      const provider = providers[input.provider];
      await provider.provision(ref(input), () => Context.current().heartbeat());
      return { taskQueue: provider.taskQueue(input.runtimeId) };
    },

    async injectRuntime(input: RuntimeInput & { token: { sealed: string; keyId: string } }): Promise<void> {
      const token = open(deps.keyring, { ciphertext: Buffer.from(input.token.sealed, 'base64'), keyId: input.token.keyId });
      await providers[input.provider].inject(ref(input), {
        runtimeId: input.runtimeId,
        tenantId: input.tenantId,
        connectorUrl: `${deps.publicUrl()}/connector/v1/signing-request`,
        token,
      });
      await setRuntimeCondition(pool, input.runtimeId, 'CONNECTING', null, AHEAD_OF.CONNECTING);
    },

    async finishOperation({ operationId, stage, failed }: { operationId: string; stage: string; failed?: string }): Promise<void> {
      await setOperation(pool, operationId, stage, failed ? 'FAILED' : 'SUCCEEDED', failed);
    },

    /**
     * Compensation of a failed provisioning: nothing of the runtime keeps running or stays usable. The
     * agent's stop and the provider are retried (this activity's retries) for `deprovisionTimeoutMs`
     * from the first attempt; after that the runtime and the operation are FAILED all the same, with
     * both reasons.
     */
    async compensateProvisioning(input: RuntimeInput & { operationId: string; stage: string; reason: string }): Promise<void> {
      let reason = input.reason;
      try {
        await stopAgent(deps.temporal, input.runtimeId);
        await providers[input.provider].deprovision(ref(input));
      } catch (error) {
        const { deprovisionTimeoutMs } = provisioningConfig(deps);
        if (Date.now() - Context.current().info.scheduledTimestampMs < deprovisionTimeoutMs) throw error;
        reason = `${input.reason}; the runtime could not be deprovisioned within ${Math.round(deprovisionTimeoutMs / 1000)} s: ${(error as Error).message}`;
      }
      await withTransaction(pool, async (client) => {
        await invalidateTokens(client, input.runtimeId);
        await revokeCertificatesOf(client, input.runtimeId);
        await setRuntimeCondition(client, input.runtimeId, 'FAILED', reason);
        await setOperation(client, input.operationId, input.stage, 'FAILED', reason);
      });
    },

    async revokeRuntimeCertificates({ runtimeId }: { runtimeId: string }): Promise<number> {
      return revokeCertificatesOf(pool, runtimeId);
    },

    async stopRuntimeAgent({ runtimeId }: { runtimeId: string }): Promise<void> {
      await stopAgent(deps.temporal, runtimeId);
    },

    async deprovisionRuntime(input: RuntimeInput): Promise<void> {
      await providers[input.provider].deprovision(ref(input));
    },

    /** Deprovisioning gave up (see workflows/deprovisioning.ts): the runtime shows why, and it can be deleted again. */
    async failDeprovisioning({ runtimeId, operationId, stage, reason }: { runtimeId: string; operationId: string; stage: string; reason: string }): Promise<void> {
      await withTransaction(pool, async (client) => {
        await setRuntimeCondition(client, runtimeId, 'FAILED', `deprovisioning failed: ${reason}`);
        await setOperation(client, operationId, stage, 'FAILED', reason);
      });
    },

    /** Removes the runtime and its memberships (applications' configVersion moves with them). */
    async deleteRuntime({ runtimeId }: { runtimeId: string }): Promise<void> {
      await withTransaction(pool, async (client) => {
        await invalidateTokens(client, runtimeId);
        await deleteRuntime(client, runtimeId);
      });
    },
  };
}

async function stopAgent(temporal: Client, runtimeId: string): Promise<void> {
  try {
    await temporal.workflow.getHandle(workflowId.agent(runtimeId)).terminate('the runtime is going away');
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

export type ProvisioningActivities = ReturnType<typeof createProvisioningActivities>;
