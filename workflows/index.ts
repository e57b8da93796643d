// Every workflow of the management plane, one file per flow (docs/architecture.md, Workflows).
export { certificateIssuance } from './certificates.js';
export { deprovisioning } from './deprovisioning.js';
export { runtimeEventFanOut } from './fan-out.js';
export { notifyApplication } from './notify.js';
export { pairing } from './pairing.js';
export { provisioning } from './provisioning.js';
export { reconciler } from './reconciler.js';
export { redeliver } from './redelivery.js';
export { apiRegistration } from './registration.js';
export { scenarioAssignment } from './scenario-assignment.js';
