import { createAssignmentActivities, type AssignmentDeps } from './assignment.js';
import { createCaRotationActivities, type CaRotationDeps } from './ca-rotation.js';
import { createConnectorActivities, type ConnectorDeps } from './connector.js';
import { createProvisioningActivities, type ProvisioningDeps } from './provisioning.js';
import { createReconcileActivities, type ReconcileDeps } from './reconcile.js';
import { createRecoveryActivities, type RecoveryDeps } from './recovery.js';
import { createRegistrationActivities, type RegistrationDeps } from './registration.js';
import { createWebhookActivities, type WebhookDeps } from './webhooks.js';

/** What activities need from the outside world; tests pass real or fake ones. */
export type ActivityDeps = ConnectorDeps & RegistrationDeps & WebhookDeps & ProvisioningDeps & ReconcileDeps & AssignmentDeps & CaRotationDeps & RecoveryDeps;

/** Builds the management plane's activities around their dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createConnectorActivities(deps),
    ...createRegistrationActivities(deps),
    ...createWebhookActivities(deps),
    ...createProvisioningActivities(deps),
    ...createReconcileActivities(deps),
    ...createAssignmentActivities(deps),
    ...createCaRotationActivities(deps),
    ...createRecoveryActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
