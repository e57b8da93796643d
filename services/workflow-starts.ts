// How each flow that an operation tracks is started: one function per flow builds its `workflow.start`
// options, used by the API routes (first start) and by the reconciler (a start that was lost), so both
// start the same workflow with the same id, arguments, search attributes and summary.
import type { Client, WorkflowHandle, WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { Provider } from '../db/runtimes.js';
import type { ConnectorConfig, ProvisioningConfig } from '../lib/config.js';
import { DeprovisioningStage, type deprovisioning } from '../workflows/deprovisioning.js';
import { MeridianStage, MeridianTenant, applicationAttributes, runtimeAttributes, workflowId } from '../workflows/ids.js';
import { PairingStage, type pairing } from '../workflows/pairing.js';
import { ProvisioningStage, type provisioning } from '../workflows/provisioning.js';
import { RecoveryStage, type runtimeRecovery } from '../workflows/recovery.js';
import { RegistrationStage, type apiRegistration } from '../workflows/registration.js';
import { AssignmentStage, type scenarioAssignment } from '../workflows/scenario-assignment.js';

/** A workflow start: its type (the workflow function's name) and its options. */
export interface FlowStart<W extends Workflow> {
  workflowType: string;
  options: WorkflowStartOptions<W>;
}

/**
 * The memo every operation's workflow carries: which operation it finishes. The reconciler tells a run
 * of this operation from an earlier run under the same id (a superseded pairing, a deprovisioning that
 * gave up) by it.
 */
export interface OperationMemo {
  operationId: string;
}

/** The operation a workflow's memo names, if any (runs started before the memo existed name none). */
export const memoOperation = (memo: Record<string, unknown> | undefined): string | undefined =>
  typeof memo?.operationId === 'string' ? memo.operationId : undefined;

/** The MeridianStage each flow starts with. */
const FIRST_STAGE = {
  provisioning: ProvisioningStage.REGISTERING,
  deprovisioning: DeprovisioningStage.REVOKING,
  pairing: PairingStage.MARKING_PAIRING,
  registration: RegistrationStage.VALIDATING,
  assignment: AssignmentStage.ASSIGNING,
} as const;

/** What starting a runtime's provisioning or deprovisioning takes. */
export interface RuntimeFlow {
  taskQueue: string;
  tenantId: string;
  runtimeId: string;
  runtimeName: string;
  provider: Provider;
  operationId: string;
  provisioning: ProvisioningConfig;
}

/** `provisioning:<runtimeId>` (POST /v1/runtimes). */
export function provisioningStart(p: RuntimeFlow): FlowStart<typeof provisioning> {
  return {
    workflowType: 'provisioning',
    options: {
      workflowId: workflowId.provisioning(p.runtimeId),
      taskQueue: p.taskQueue,
      args: [
        {
          tenantId: p.tenantId,
          runtimeId: p.runtimeId,
          provider: p.provider,
          operationId: p.operationId,
          provisionTimeoutMs: p.provisioning.provisionTimeoutMs,
          agentTimeoutMs: p.provisioning.agentTimeoutMs,
          agentDesign: p.provisioning.agentDesign,
        },
      ],
      memo: { operationId: p.operationId } satisfies OperationMemo,
      typedSearchAttributes: runtimeAttributes(p.tenantId, p.runtimeId, FIRST_STAGE.provisioning),
      staticSummary: `Provision runtime "${p.runtimeName}" (${p.provider}) until its agent is CONNECTED`,
    },
  };
}

/** `deprovisioning:<runtimeId>` (DELETE /v1/runtimes/{id}); a deprovisioning already running is used as it is. */
export function deprovisioningStart(p: RuntimeFlow): FlowStart<typeof deprovisioning> {
  return {
    workflowType: 'deprovisioning',
    options: {
      workflowId: workflowId.deprovisioning(p.runtimeId),
      taskQueue: p.taskQueue,
      args: [
        { tenantId: p.tenantId, runtimeId: p.runtimeId, provider: p.provider, operationId: p.operationId, deprovisionTimeoutMs: p.provisioning.deprovisionTimeoutMs },
      ],
      workflowIdConflictPolicy: 'USE_EXISTING',
      memo: { operationId: p.operationId } satisfies OperationMemo,
      typedSearchAttributes: runtimeAttributes(p.tenantId, p.runtimeId, FIRST_STAGE.deprovisioning),
      staticSummary: `Deprovision runtime "${p.runtimeName}": revoke, stop the agent, remove, notify`,
    },
  };
}

/** `pairing:<applicationId>` (POST /v1/applications/{id}/pairing); a running pairing of the application is replaced. */
export function pairingStart(p: { taskQueue: string; tenantId: string; applicationId: string; operationId: string; connector: ConnectorConfig }): FlowStart<typeof pairing> {
  return {
    workflowType: 'pairing',
    options: {
      workflowId: workflowId.pairing(p.applicationId),
      taskQueue: p.taskQueue,
      args: [
        { tenantId: p.tenantId, applicationId: p.applicationId, operationId: p.operationId, tokenTtlSeconds: p.connector.ttl.application, csrTtlSeconds: p.connector.ttl.csr },
      ],
      workflowIdConflictPolicy: 'TERMINATE_EXISTING',
      memo: { operationId: p.operationId } satisfies OperationMemo,
      typedSearchAttributes: applicationAttributes(p.tenantId, p.applicationId, FIRST_STAGE.pairing),
      staticSummary: `Pair application ${p.applicationId}: one-time token → CSR signed → CONNECTED`,
    },
  };
}

/** `api-registration:<definitionId>` (POST/PUT /v1/application/apis|events); a replacement supersedes a validation in flight. */
export function registrationStart(p: {
  taskQueue: string;
  tenantId: string;
  applicationId: string;
  definitionId: string;
  operationId: string;
  /** What the summary names: `API` or `event`, the definition's name and its spec type. */
  noun: string;
  name: string;
  specType: string | null;
}): FlowStart<typeof apiRegistration> {
  return {
    workflowType: 'apiRegistration',
    options: {
      workflowId: workflowId.registration(p.definitionId),
      taskQueue: p.taskQueue,
      args: [{ definitionId: p.definitionId, operationId: p.operationId }],
      workflowIdConflictPolicy: 'TERMINATE_EXISTING',
      memo: { operationId: p.operationId } satisfies OperationMemo,
      typedSearchAttributes: applicationAttributes(p.tenantId, p.applicationId, FIRST_STAGE.registration),
      staticSummary: `Fetch and validate the ${p.specType ?? ''} spec of ${p.noun} "${p.name}"`,
    },
  };
}

/**
 * `scenario-assignment:<scenarioId>` (POST/DELETE /v1/scenarios/{name}/assignments): a pass over the
 * tenant's runtimes. A newer change of the assignment replaces a pass still running (its own pass
 * covers every runtime against the assignment as it is now).
 */
export function scenarioAssignmentStart(p: { taskQueue: string; tenantId: string; scenarioId: string; scenario: string; operationId: string }): FlowStart<typeof scenarioAssignment> {
  return {
    workflowType: 'scenarioAssignment',
    options: {
      workflowId: workflowId.scenarioAssignment(p.scenarioId),
      taskQueue: p.taskQueue,
      args: [{ tenantId: p.tenantId, scenario: p.scenario, operationId: p.operationId }],
      workflowIdConflictPolicy: 'TERMINATE_EXISTING',
      memo: { operationId: p.operationId } satisfies OperationMemo,
      typedSearchAttributes: [
        { key: MeridianTenant, value: p.tenantId },
        { key: MeridianStage, value: FIRST_STAGE.assignment },
      ],
      staticSummary: `Bring every runtime's membership of scenario "${p.scenario}" in line with its automatic assignment`,
    },
  };
}

/**
 * `recovery:<runtimeId>:<n>` (the reconciler's round, for a runtime that lost every live certificate): a
 * fresh token injected through the provider until the agent is CONNECTED again. `workflowId` is the one
 * its operation recorded.
 */
export function recoveryStart(
  p: Omit<RuntimeFlow, 'provisioning'> & {
    workflowId: string;
    /** What happened to its certificate. */
    reason: string;
  },
): FlowStart<typeof runtimeRecovery> {
  return {
    workflowType: 'runtimeRecovery',
    options: {
      workflowId: p.workflowId,
      taskQueue: p.taskQueue,
      args: [{ tenantId: p.tenantId, runtimeId: p.runtimeId, provider: p.provider, operationId: p.operationId, reason: p.reason }],
      memo: { operationId: p.operationId } satisfies OperationMemo,
      typedSearchAttributes: runtimeAttributes(p.tenantId, p.runtimeId, RecoveryStage.INJECTING),
      staticSummary: `Recover runtime "${p.runtimeName}" (${p.reason}): a fresh one-time token through its provider until its agent is CONNECTED again`,
    },
  };
}

/** Starts a flow; `overrides` replace start options (the reconciler's conflict policy). */
export function startFlow<W extends Workflow>(client: Client, start: FlowStart<W>, overrides: Partial<Pick<WorkflowStartOptions<W>, 'workflowIdConflictPolicy'>> = {}): Promise<WorkflowHandle<W>> {
  return client.workflow.start<W>(start.workflowType, { ...start.options, ...overrides } as WorkflowStartOptions<W>);
}
