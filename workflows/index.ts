// Every workflow of the management plane, one file per flow (DESIGN.md, Workflows).
export { certificateIssuance } from './certificates.js';
export { deprovisioning } from './deprovisioning.js';
export { notifyApplication, runtimeEventFanOut } from './notify.js';
export { pairing } from './pairing.js';
export { provisioning } from './provisioning.js';
export { apiRegistration } from './registration.js';
