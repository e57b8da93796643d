// Activities of recovery (workflows/recovery.ts; docs/architecture.md, "Recovery"): the reconciler's step
// that finds runtimes and applications which lost every live certificate, and the steps of a runtime's
// recovery: a fresh one-time token injected through the runtime's provider, its progress, its end.
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { recordAudit } from '../db/audit.js';
import { insertOperation, setOperation } from '../db/operations.js';
import {
  clearRecoveryMessage,
  lockRecoverableRuntime,
  markApplicationsDisconnected,
  recoveriesOf,
  recoveryProgress,
  runtimesToRecover,
  setRecoveryMessage,
  type RecoveryProgress,
} from '../db/recovery.js';
import type { Provider } from '../db/runtimes.js';
import { invalidateTokens, issueToken } from '../db/tokens.js';
import { UNIQUE_VIOLATION, pgError, withTransaction } from '../db/tx.js';
import type { ConnectorConfig } from '../lib/config.js';
import { recoveryStart, startFlow } from '../services/workflow-starts.js';
import { RecoveryStage, recoveryMessage } from '../workflows/recovery.js';
import { workflowId } from '../workflows/ids.js';
import type { RuntimeProvider } from './providers/provider.js';

export interface RecoveryDeps {
  pool: pg.Pool;
  temporal: Client;
  connector: ConnectorConfig;
  providers: Record<Provider, RuntimeProvider>;
  /** The API's public base URL, which runtimes use to reach the Connector. */
  publicUrl: () => string;
}

/** Recoveries started per reconciler round at most; the rest in the following rounds. */
export const RECOVERIES_PER_ROUND = 100;
/** Applications marked DISCONNECTED per round at most; the rest in the following rounds. */
export const DISCONNECTED_PER_ROUND = 1000;

/** The one command that pairs an application again, into the directory its key and certificate live in. */
export const repairCommand = (name: string) => `meridian app pair ${name} --connect --dir <dir>`;

/** What one reconciler round's recovery step did. */
export interface RecoverySweep {
  /** Recoveries started (runtimes). */
  started: number;
  /** Applications marked DISCONNECTED. */
  disconnected: number;
}

/** A runtime's recovery, as its workflow hands it to each step. */
export interface RecoveryRef {
  tenantId: string;
  runtimeId: string;
  provider: Provider;
  operationId: string;
  /** What happened to its certificate (`its certificate expired at …`). */
  reason: string;
}

export function createRecoveryActivities(deps: RecoveryDeps) {
  const { pool } = deps;
  /** The reconciler's own workflow, as the audit trail names it. */
  const reconcilerActor = () => `workflow:${Context.current().info.workflowExecution?.workflowId ?? 'reconciler'}`;

  /** Records a runtime's next RECOVERY operation, its message and an audit entry; undefined when one is in progress already. */
  const recordRecovery = async (runtime: { id: string; tenantId: string; reason: string }) => {
    try {
      return await withTransaction(pool, async (client) => {
        const id = workflowId.recovery(runtime.id, (await recoveriesOf(client, runtime.id)) + 1);
        const op = await insertOperation(client, { tenantId: runtime.tenantId, type: 'RECOVERY', resourceId: runtime.id, stage: RecoveryStage.INJECTING, workflowId: id });
        await setRecoveryMessage(client, runtime.id, recoveryMessage(runtime.reason, op.id));
        await recordAudit(client, {
          tenantId: runtime.tenantId,
          actor: reconcilerActor(),
          actorKind: 'workflow',
          action: 'start-recovery',
          resource: `/v1/runtimes/${runtime.id}`,
          detail: { operationId: op.id, workflowId: id, reason: runtime.reason },
        });
        return op;
      });
    } catch (error) {
      if (pgError(error)?.code === UNIQUE_VIOLATION) return undefined;
      throw error;
    }
  };

  return {
    /**
     * The reconciler's recovery step: starts `recovery:<runtimeId>:<n>` for every CONNECTED or UNREACHABLE
     * runtime (of `tenantIds` when given) that lost every live certificate and has no operation in
     * progress, and marks DISCONNECTED the CONNECTED applications that did. Recoveries run on this
     * activity's task queue, the management plane's; one whose start is lost is started by the
     * reconciler's next round (its operation is the durable intent).
     */
    async sweepLostCertificates(input: { tenantIds?: string[] }): Promise<RecoverySweep> {
      const context = Context.current();
      let started = 0;
      for (const runtime of await runtimesToRecover(pool, { tenantIds: input.tenantIds, limit: RECOVERIES_PER_ROUND })) {
        context.heartbeat();
        const op = await recordRecovery(runtime);
        if (!op) continue;
        const start = recoveryStart({ taskQueue: context.info.taskQueue, tenantId: runtime.tenantId, runtimeId: runtime.id, runtimeName: runtime.name, provider: runtime.provider, operationId: op.id, workflowId: op.workflow_id!, reason: runtime.reason });
        await startFlow(deps.temporal, start).catch((error: unknown) => {
          if (error instanceof WorkflowExecutionAlreadyStartedError) return;
          context.log.warn('recovery recorded, its start is left to the next round', { runtimeId: runtime.id, operationId: op.id, error: (error as Error).message });
        });
        context.log.warn('runtime lost every live certificate: recovery started', { runtimeId: runtime.id, operationId: op.id, reason: runtime.reason });
        started++;
      }
      const disconnected = await withTransaction(pool, async (client) => {
        const marked = await markApplicationsDisconnected(client, { tenantIds: input.tenantIds, limit: DISCONNECTED_PER_ROUND, repairCommand });
        for (const app of marked) {
          await recordAudit(client, {
            tenantId: app.tenantId,
            actor: reconcilerActor(),
            actorKind: 'workflow',
            action: 'mark-application-disconnected',
            resource: `/v1/applications/${app.id}`,
            detail: { condition: 'DISCONNECTED', message: app.message },
          });
        }
        return marked.length;
      });
      return { started, disconnected };
    },

    /**
     * Issues a fresh runtime one-time token and injects it through the runtime's provider, replacing any
     * token injected before (its unused tokens are invalidated). The token never leaves this activity: it
     * goes from PostgreSQL to the provider and is not returned. A runtime that can no longer be recovered
     * (deprovisioning, removed, FAILED) gets nothing: `gone` says why.
     */
    async injectRecoveryToken(input: RecoveryRef & { injection: number }): Promise<{ ttlSeconds: number } | { gone: string }> {
      const prepared = await withTransaction(pool, async (client): Promise<{ token: string } | { gone: string }> => {
        const lock = await lockRecoverableRuntime(client, input.runtimeId);
        if (!lock.recoverable) return { gone: lock.reason };
        await invalidateTokens(client, input.runtimeId);
        const { token } = await issueToken(client, { tenantId: input.tenantId, objectKind: 'runtime', objectId: input.runtimeId, purpose: 'runtime' }, deps.connector.ttl.runtime);
        await setOperation(client, input.operationId, RecoveryStage.INJECTING);
        await setRecoveryMessage(client, input.runtimeId, recoveryMessage(input.reason, input.operationId));
        return { token };
      });
      if ('gone' in prepared) return prepared;
      await deps.providers[input.provider].inject(
        { runtimeId: input.runtimeId, tenantId: input.tenantId },
        { runtimeId: input.runtimeId, tenantId: input.tenantId, connectorUrl: `${deps.publicUrl()}/connector/v1/signing-request`, token: prepared.token },
      );
      await setOperation(pool, input.operationId, RecoveryStage.WAITING_FOR_AGENT);
      Context.current().log.info('recovery token injected', { runtimeId: input.runtimeId, operationId: input.operationId, injection: input.injection });
      return { ttlSeconds: deps.connector.ttl.runtime };
    },

    /** Where the runtime stands: CONNECTED again with a new certificate, still waiting (its message shown again), or gone. */
    async recoveryProgress(input: RecoveryRef): Promise<RecoveryProgress> {
      return recoveryProgress(pool, { runtimeId: input.runtimeId, operationId: input.operationId, message: recoveryMessage(input.reason, input.operationId) });
    },

    /**
     * Ends a recovery: SUCCEEDED (the recovery's message leaves the runtime), or FAILED with `failed` (the
     * runtime's unused tokens invalidated, its message saying why).
     */
    async finishRecovery(input: RecoveryRef & { stage: string; failed?: string }): Promise<void> {
      await withTransaction(pool, async (client) => {
        if (input.failed === undefined) {
          // A token injected again while the agent was already exchanging the previous one stays unused: it goes.
          await invalidateTokens(client, input.runtimeId);
          await setOperation(client, input.operationId, input.stage, 'SUCCEEDED');
          await clearRecoveryMessage(client, input.runtimeId, input.operationId);
          return;
        }
        await invalidateTokens(client, input.runtimeId);
        await setOperation(client, input.operationId, input.stage, 'FAILED', input.failed);
        await setRecoveryMessage(client, input.runtimeId, `${input.reason}; recovery failed (operation ${input.operationId}): ${input.failed}`);
      });
    },
  };
}

export type RecoveryActivities = ReturnType<typeof createRecoveryActivities>;
