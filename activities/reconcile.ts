// The reconciler's activity (workflows/reconciler.ts): every IN_PROGRESS operation gets an owner. The
// operation row, written in the same transaction as the change it tracks, is the durable intent; this
// activity makes sure a workflow carries it out, or fails it with the reason. Each round also removes
// credential slots that stayed UNUSED longer than their retention, and audit entries older than theirs,
// and marks runtimes that stopped calling UNREACHABLE (announcing liveness transitions not announced yet).
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowExecutionStatusName } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type pg from 'pg';
import { actingAs } from '../db/acting.js';
import { pruneAudit } from '../db/audit.js';
import { removeUnusedSlots } from '../db/credentials.js';
import { markUnreachable } from '../db/liveness.js';
import { failInProgressOperation, unfinishedOperations, type UnfinishedOperation } from '../db/operations.js';
import { setRuntimeCondition, type Provider } from '../db/runtimes.js';
import { invalidateTokens } from '../db/tokens.js';
import { withTransaction } from '../db/tx.js';
import {
  DEFAULT_AUDIT_RETENTION_DAYS,
  DEFAULT_UNREACHABLE_AFTER_INTERVALS,
  type AuditConfig,
  type ConnectorConfig,
  type CredentialSlotsConfig,
  type LivenessConfig,
  type ProvisioningConfig,
} from '../lib/config.js';
import { LAST_SEEN_FLUSH_MS } from '../services/last-seen.js';
import { announceLivenessTransitions } from '../services/liveness.js';
import {
  deprovisioningStart,
  memoOperation,
  pairingStart,
  provisioningStart,
  recoveryStart,
  registrationStart,
  scenarioAssignmentStart,
  startFlow,
  type FlowStart,
} from '../services/workflow-starts.js';
import { provisioningConfig } from './provisioning.js';

export interface ReconcileDeps {
  pool: pg.Pool;
  temporal: Client;
  connector: ConnectorConfig;
  provisioning?: ProvisioningConfig;
  credentialSlots: CredentialSlotsConfig;
  /** How long audit entries are kept. @default 90 days ({@link DEFAULT_AUDIT_RETENTION_DAYS}) */
  audit?: AuditConfig;
  /** When a runtime that stopped calling becomes UNREACHABLE. @default 3 intervals ({@link DEFAULT_UNREACHABLE_AFTER_INTERVALS}) */
  liveness?: LivenessConfig;
}

/** UNUSED credential slots removed per round at most; a backlog goes in the following rounds. */
export const UNUSED_SLOTS_PER_ROUND = 1000;
/** Audit entries removed per round at most; a backlog goes in the following rounds. */
export const AUDIT_ENTRIES_PER_ROUND = 10_000;
/** Runtimes marked UNREACHABLE per round at most; a backlog goes in the following rounds. */
export const UNREACHABLE_PER_ROUND = 1000;

/** What one round's liveness sweep did: runtimes marked UNREACHABLE, transitions announced. */
export interface LivenessSweep {
  unreachable: number;
  announced: number;
}

/** What one round did: operations looked at, workflows started again, operations failed, errors. */
export interface ReconcileRound {
  examined: number;
  redriven: number;
  failed: number;
  errors: number;
}

type Outcome = 'owned' | 'redriven' | 'failed';

/** How a closed workflow ended, in words. */
const ENDED: Partial<Record<WorkflowExecutionStatusName, string>> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  TERMINATED: 'was terminated',
  CANCELLED: 'was cancelled',
  TIMED_OUT: 'timed out',
  CONTINUED_AS_NEW: 'continued as new',
};

const LABEL: Record<string, string> = {
  PAIRING: 'pairing',
  API_REGISTRATION: 'registration',
  PROVISIONING: 'provisioning',
  DEPROVISIONING: 'deprovisioning',
  SCENARIO_ASSIGNMENT: 'scenario assignment',
  RECOVERY: 'recovery',
};

export function createReconcileActivities(deps: ReconcileDeps) {
  const { pool, temporal } = deps;

  /** The start of the operation's workflow, rebuilt from PostgreSQL; a string says why there is none. */
  const startOf = (op: UnfinishedOperation, taskQueue: string): FlowStart<Workflow> | string => {
    const common = { taskQueue, tenantId: op.tenant_id, operationId: op.id };
    switch (op.type) {
      case 'PROVISIONING':
      case 'DEPROVISIONING': {
        if (!op.runtime) return 'the runtime no longer exists';
        const runtime = { ...common, runtimeId: op.resource_id, runtimeName: op.runtime.name, provider: op.runtime.provider as Provider, provisioning: provisioningConfig(deps) };
        return (op.type === 'PROVISIONING' ? provisioningStart(runtime) : deprovisioningStart(runtime));
      }
      case 'PAIRING':
        return pairingStart({ ...common, applicationId: op.resource_id, connector: deps.connector });
      case 'API_REGISTRATION': {
        const definition = op.definition;
        if (!definition) return 'the definition no longer exists';
        return registrationStart({
          ...common,
          applicationId: definition.applicationId,
          definitionId: op.resource_id,
          noun: definition.kind === 'API' ? 'API' : 'event',
          name: definition.name,
          specType: definition.specType,
        });
      }
      case 'RECOVERY':
        if (!op.runtime) return 'the runtime no longer exists';
        return recoveryStart({
          ...common,
          runtimeId: op.resource_id,
          runtimeName: op.runtime.name,
          provider: op.runtime.provider as Provider,
          workflowId: op.workflow_id!,
          reason: 'its certificates expired or were revoked',
        });
      case 'SCENARIO_ASSIGNMENT':
        if (op.scenario === null) return 'the scenario no longer exists';
        return scenarioAssignmentStart({ ...common, scenarioId: op.resource_id, scenario: op.scenario });
      default:
        return `a ${op.type} operation has no workflow to start`;
    }
  };

  /** The reconciler's own workflow, as the audit trail names who failed an operation. */
  const reconcilerActor = () => ({ kind: 'workflow' as const, name: `workflow:${Context.current().info.workflowExecution?.workflowId ?? 'reconciler'}` });

  /** Fails the operation (if still in progress) and leaves its object usable again. */
  const fail = async (op: UnfinishedOperation, reason: string): Promise<Outcome> => {
    const failed = await actingAs({ actor: reconcilerActor }, () => withTransaction(pool, async (client) => {
      if (!(await failInProgressOperation(client, op.id, reason))) return false;
      if ((op.type === 'PROVISIONING' || op.type === 'DEPROVISIONING') && op.runtime) {
        await setRuntimeCondition(client, op.resource_id, 'FAILED', `${LABEL[op.type]} failed: ${reason}`);
      }
      // Tokens of a provisioning or pairing that can no longer finish must not be exchangeable.
      if (op.type === 'PROVISIONING' || op.type === 'PAIRING') await invalidateTokens(client, op.resource_id);
      return true;
    }));
    if (failed) Context.current().log.warn('operation failed by the reconciler', { operationId: op.id, type: op.type, workflowId: op.workflow_id, reason });
    return failed ? 'failed' : 'owned';
  };

  /** Why a closed run ended: its failure or termination reason when Temporal has one. */
  const closedReason = async (workflowId: string, runId: string, status: WorkflowExecutionStatusName): Promise<string> => {
    const ended = ENDED[status] ?? `ended (${status})`;
    const why = await temporal.workflow
      .getHandle(workflowId, runId, { followRuns: false })
      .result()
      .then(
        () => undefined,
        (error: unknown) => {
          const cause = (error as { cause?: unknown }).cause;
          return cause instanceof Error && cause.message ? cause.message : undefined;
        },
      );
    return `the workflow ${workflowId} ${ended}${why ? ` (${why})` : ''} without finishing the operation`;
  };

  /** Gives one operation an owner. */
  const reconcile = async (op: UnfinishedOperation, taskQueue: string): Promise<Outcome> => {
    if (op.superseded) return fail(op, `superseded by a newer ${LABEL[op.type] ?? op.type} operation`);
    const workflowId = op.workflow_id!;
    let description;
    try {
      description = await temporal.workflow.getHandle(workflowId).describe();
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
    const running = description?.status.name === 'RUNNING';
    if (description) {
      // A run without the memo was started before it existed, by this operation's own start.
      const owner = memoOperation(description.memo);
      if (owner === undefined || owner === op.id) {
        if (running) return 'owned';
        return fail(op, await closedReason(workflowId, description.runId, description.status.name));
      }
    }
    // Never started (or gone), or the run under this id is an earlier operation's: start this one's.
    const start = startOf(op, taskQueue);
    if (typeof start === 'string') return fail(op, start);
    try {
      // Only a running earlier run is replaced (by the flow's own policy); otherwise a start that raced
      // this one (the API's, another reconciler round's) wins.
      await startFlow(temporal, start, running ? {} : { workflowIdConflictPolicy: 'FAIL' });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return 'owned';
      throw error;
    }
    Context.current().log.warn('operation re-driven: its workflow was started again', { operationId: op.id, type: op.type, workflowId });
    return 'redriven';
  };

  return {
    /**
     * One round of the reconciler over the IN_PROGRESS operations started before `startedBefore`
     * (oldest first, at most `limit`). Workflows are started on this activity's task queue, the
     * management plane's.
     */
    async reconcileOperations(input: { startedBefore: string; tenantIds?: string[]; limit: number }): Promise<ReconcileRound> {
      const context = Context.current();
      const operations = await unfinishedOperations(pool, { startedBefore: new Date(input.startedBefore), tenantIds: input.tenantIds, limit: input.limit });
      const round: ReconcileRound = { examined: operations.length, redriven: 0, failed: 0, errors: 0 };
      for (const op of operations) {
        context.heartbeat();
        try {
          const outcome = await reconcile(op, context.info.taskQueue);
          if (outcome === 'redriven') round.redriven++;
          if (outcome === 'failed') round.failed++;
        } catch (error) {
          round.errors++;
          context.log.warn('operation not reconciled this round', { operationId: op.id, type: op.type, error: (error as Error).message });
        }
      }
      return round;
    },

    /** Removes credential slots UNUSED for longer than MERIDIAN_UNUSED_SLOT_RETENTION_DAYS (of `tenantIds` when given); returns how many. */
    async removeUnusedCredentialSlots(input: { tenantIds?: string[] }): Promise<number> {
      return removeUnusedSlots(pool, { retentionDays: deps.credentialSlots.unusedRetentionDays, tenantIds: input.tenantIds, limit: UNUSED_SLOTS_PER_ROUND });
    },

    /** Removes audit entries older than MERIDIAN_AUDIT_RETENTION_DAYS (of `tenantIds` when given); returns how many. */
    async pruneAuditEntries(input: { tenantIds?: string[] }): Promise<number> {
      const retentionDays = deps.audit?.retentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;
      return pruneAudit(pool, { retentionDays, tenantIds: input.tenantIds, limit: AUDIT_ENTRIES_PER_ROUND });
    },

    /**
     * Marks UNREACHABLE the CONNECTED runtimes (of `tenantIds` when given) that missed
     * MERIDIAN_UNREACHABLE_AFTER_INTERVALS of their poll intervals, then announces every liveness
     * transition not announced yet: these, runtimes that called back, any a crash left behind. The
     * fan-outs run on this activity's task queue, the management plane's.
     */
    async sweepLiveness(input: { tenantIds?: string[] }): Promise<LivenessSweep> {
      const context = Context.current();
      const marked = await markUnreachable(pool, {
        afterIntervals: deps.liveness?.unreachableAfterIntervals ?? DEFAULT_UNREACHABLE_AFTER_INTERVALS,
        lagSeconds: deps.liveness?.recordingLagSeconds ?? LAST_SEEN_FLUSH_MS / 1000,
        tenantIds: input.tenantIds,
        limit: UNREACHABLE_PER_ROUND,
      });
      if (marked.length > 0) context.log.warn('runtimes UNREACHABLE: they missed their polls', { runtimeIds: marked.map((r) => r.id) });
      const announced = await announceLivenessTransitions({ pool, temporal, taskQueue: context.info.taskQueue }, { tenantIds: input.tenantIds });
      return { unreachable: marked.length, announced };
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
