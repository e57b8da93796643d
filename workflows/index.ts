// Every workflow of the management plane, one file per flow (DESIGN.md, Workflows).
export { certificateIssuance } from './certificates.js';
export { notifyApplication, runtimeEventFanOut } from './notify.js';
export { pairing } from './pairing.js';
export { apiRegistration } from './registration.js';
