// Every workflow of the management plane, one file per flow (docs/architecture.md, Workflows).
export { caRotation } from './ca-rotation.js';
export { certificateIssuance } from './certificates.js';
export { deprovisioning } from './deprovisioning.js';
export { runtimeEventFanOut } from './fan-out.js';
export { notifyApplication } from './notify.js';
export { pairing } from './pairing.js';
export { provisioning } from './provisioning.js';
export { reconciler } from './reconciler.js';
export { runtimeRecovery } from './recovery.js';
export { redeliver } from './redelivery.js';
export { apiRegistration } from './registration.js';
export { scenarioAssignment } from './scenario-assignment.js';
