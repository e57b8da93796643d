// The reconciler (docs/architecture.md, "Durable intent"): operations are the outbox. Every round it
// asks for the IN_PROGRESS operations older than a grace period and gives each an owner: a workflow
// that was never started (or is gone) is started again from what PostgreSQL holds; one that closed
// without finishing its operation fails the operation with the reason. One reconciler per namespace
// (workflow id `reconciler`); it continues as new after a bounded number of rounds. Each round also
// removes credential slots that stayed UNUSED longer than MERIDIAN_UNUSED_SLOT_RETENTION_DAYS, and audit
// entries older than MERIDIAN_AUDIT_RETENTION_DAYS, and marks CONNECTED runtimes that missed
// MERIDIAN_UNREACHABLE_AFTER_INTERVALS polls UNREACHABLE (applications sharing a scenario are told), and
// starts the recovery of runtimes that lost every live certificate (applications in that case become
// DISCONNECTED; workflows/recovery.ts).
import { allHandlersFinished, condition, continueAsNew, defineQuery, patched, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { ReconcileActivities, ReconcileRound } from '../activities/reconcile.js';
import type { RecoveryActivities } from '../activities/recovery.js';
import { failureMessage } from './failures.js';

export interface ReconcilerInput {
  /** Seconds between rounds. @default 15 */
  intervalSeconds?: number;
  /** An operation younger than this is left to the API that is starting its workflow. @default 30 */
  graceSeconds?: number;
  /** Operations looked at per round, oldest first. @default 100 */
  batchSize?: number;
  /** Rounds before the workflow continues as new. @default 100 */
  roundsPerRun?: number;
  /** Only operations of these tenants (tests, which share one database); every tenant when not given. */
  tenantIds?: string[];
  /** Totals carried across runs. */
  totals?: ReconcilerTotals;
}

export interface ReconcilerTotals {
  rounds: number;
  redriven: number;
  failed: number;
  errors: number;
  /** UNUSED credential slots removed after their retention (absent in totals from before the removal). */
  unusedSlotsRemoved?: number;
  /** Audit entries removed after their retention (absent in totals from before the pruning). */
  auditEntriesPruned?: number;
  /** Runtimes marked UNREACHABLE (absent in totals from before the liveness sweep). */
  unreachable?: number;
  /** Recoveries started for runtimes that lost every live certificate (absent in totals from before recovery). */
  recoveriesStarted?: number;
  /** Applications marked DISCONNECTED: every certificate of theirs expired or revoked (absent in totals from before recovery). */
  applicationsDisconnected?: number;
}

export interface ReconcilerStatus {
  totals: ReconcilerTotals;
  lastRound?: ReconcileRound & { at: string };
  lastError?: string;
}

export const reconcilerStatus = defineQuery<ReconcilerStatus>('status');

const { reconcileOperations } = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  // A round that fails (PostgreSQL down, say) is not retried: the next round comes soon anyway.
  retry: { maximumAttempts: 1 },
});
const { removeUnusedCredentialSlots, pruneAuditEntries } = proxyActivities<ReconcileActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 1 } });
// Marks runtimes and starts up to 500 fan-outs; a sweep that fails is not retried: the next round sweeps again.
const { sweepLiveness } = proxyActivities<ReconcileActivities>({ startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 1 } });
// Starts up to 100 recoveries and marks applications; a step that fails is not retried: the next round looks again.
const { sweepLostCertificates } = proxyActivities<RecoveryActivities>({ startToCloseTimeout: '2 minutes', heartbeatTimeout: '1 minute', retry: { maximumAttempts: 1 } });

export async function reconciler(input: ReconcilerInput = {}): Promise<never> {
  const intervalMs = (input.intervalSeconds ?? 15) * 1000;
  const graceMs = (input.graceSeconds ?? 30) * 1000;
  const status: ReconcilerStatus = { totals: input.totals ?? { rounds: 0, redriven: 0, failed: 0, errors: 0 } };
  setHandler(reconcilerStatus, () => status);

  for (let round = 0; round < (input.roundsPerRun ?? 100) && !workflowInfo().continueAsNewSuggested; round++) {
    try {
      // Workflow time, not the database's: under a time-skipping test server the grace passes with it.
      const result = await reconcileOperations({ startedBefore: new Date(Date.now() - graceMs).toISOString(), tenantIds: input.tenantIds, limit: input.batchSize ?? 100 });
      status.lastRound = { ...result, at: new Date().toISOString() };
      status.lastError = undefined;
      status.totals.redriven += result.redriven;
      status.totals.failed += result.failed;
      status.totals.errors += result.errors;
    } catch (error) {
      status.lastError = failureMessage(error);
      status.totals.errors++;
    }
    // Rounds of histories from before the removal replay without it.
    if (patched('remove-unused-credential-slots')) {
      try {
        status.totals.unusedSlotsRemoved = (status.totals.unusedSlotsRemoved ?? 0) + (await removeUnusedCredentialSlots({ tenantIds: input.tenantIds }));
      } catch (error) {
        status.lastError = failureMessage(error);
        status.totals.errors++;
      }
    }
    // Rounds of histories from before the audit trail replay without its pruning.
    if (patched('prune-audit-entries')) {
      try {
        status.totals.auditEntriesPruned = (status.totals.auditEntriesPruned ?? 0) + (await pruneAuditEntries({ tenantIds: input.tenantIds }));
      } catch (error) {
        status.lastError = failureMessage(error);
        status.totals.errors++;
      }
    }
    // Rounds of histories from before liveness replay without its sweep.
    if (patched('runtime-liveness')) {
      try {
        status.totals.unreachable = (status.totals.unreachable ?? 0) + (await sweepLiveness({ tenantIds: input.tenantIds })).unreachable;
      } catch (error) {
        status.lastError = failureMessage(error);
        status.totals.errors++;
      }
    }
    // Rounds of histories from before recovery replay without its step.
    if (patched('runtime-recovery')) {
      try {
        const sweep = await sweepLostCertificates({ tenantIds: input.tenantIds });
        status.totals.recoveriesStarted = (status.totals.recoveriesStarted ?? 0) + sweep.started;
        status.totals.applicationsDisconnected = (status.totals.applicationsDisconnected ?? 0) + sweep.disconnected;
      } catch (error) {
        status.lastError = failureMessage(error);
        status.totals.errors++;
      }
    }
    status.totals.rounds++;
    await sleep(intervalMs);
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof reconciler>({ ...input, totals: status.totals });
}
