// Business ids of every workflow and Meridian's typed search attributes: one module that the API,
// the activities, the workflows and the CLI all build them with.
import { defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';

/** Workflow ids are business ids: one flow per object (or per event), never random. */
export const workflowId = {
  pairing: (applicationId: string) => `pairing:${applicationId}`,
  registration: (definitionId: string) => `api-registration:${definitionId}`,
  provisioning: (runtimeId: string) => `provisioning:${runtimeId}`,
  deprovisioning: (runtimeId: string) => `deprovisioning:${runtimeId}`,
  agent: (runtimeId: string) => `agent:${runtimeId}`,
  /** One delivery workflow per application and event: a second start for the same event is refused. */
  notify: (applicationId: string, eventId: string) => `notify:${applicationId}:${eventId}`,
  /** The `n`th redelivery of one delivery (`n` counts its redeliveries, so each is a workflow of its own). */
  redelivery: (deliveryId: string, n: number) => `redelivery:${deliveryId}:${n}`,
  /** A redelivery of an application's FAILED deliveries, named after the first of them and its `n`th redelivery. */
  redeliveries: (applicationId: string, firstDeliveryId: string, n: number) => `redeliveries:${applicationId}:${firstDeliveryId}:${n}`,
  /**
   * One fan-out per runtime event (`runtime.connected:<runtimeId>`, `runtime.removed:<runtimeId>`, and per
   * liveness transition `runtime.unreachable:<runtimeId>:<n>`, `runtime.reachable:<runtimeId>:<n>`).
   */
  fanOut: (eventId: string) => `fan-out:${eventId}`,
  /** One issuance per request (renewals, runtime certificates): `requestId` is the request's issuance key. */
  certificate: (objectId: string, requestId: string) => `certificate:${objectId}:${requestId}`,
  /** The `n`th recovery of a runtime that lost every live certificate (`n` counts its recoveries, so each is a workflow of its own). */
  recovery: (runtimeId: string, n: number) => `recovery:${runtimeId}:${n}`,
  /** One pass at a time per scenario (names repeat across tenants, so by the scenario's id). */
  scenarioAssignment: (scenarioId: string) => `scenario-assignment:${scenarioId}`,
  /** One workflow per CA rotation (at most one is in progress). */
  caRotation: (rotationId: string) => `ca-rotation:${rotationId}`,
  /** The one reconciler of the namespace (`reconciler`); a scoped one (tests) is `reconciler:<scope>`. */
  reconciler: (scope?: string) => (scope ? `reconciler:${scope}` : 'reconciler'),
} as const;

/** Meridian's typed search attributes (all Keyword). */
export const MeridianTenant = defineSearchAttributeKey('MeridianTenant', 'KEYWORD');
export const MeridianApplicationId = defineSearchAttributeKey('MeridianApplicationId', 'KEYWORD');
export const MeridianRuntimeId = defineSearchAttributeKey('MeridianRuntimeId', 'KEYWORD');
export const MeridianStage = defineSearchAttributeKey('MeridianStage', 'KEYWORD');

export const SEARCH_ATTRIBUTE_KEYS = [MeridianTenant, MeridianApplicationId, MeridianRuntimeId, MeridianStage];

/** Start-time attributes of a workflow about an application. */
export const applicationAttributes = (tenantId: string, applicationId: string, stage: string): SearchAttributePair[] => [
  { key: MeridianTenant, value: tenantId },
  { key: MeridianApplicationId, value: applicationId },
  { key: MeridianStage, value: stage },
];

/** Start-time attributes of a workflow about a runtime. */
export const runtimeAttributes = (tenantId: string, runtimeId: string, stage: string): SearchAttributePair[] => [
  { key: MeridianTenant, value: tenantId },
  { key: MeridianRuntimeId, value: runtimeId },
  { key: MeridianStage, value: stage },
];

/** Stages of a notification workflow (`notifyApplication`, workflows/notify.ts, which re-exports it). */
export const DeliveryStage = {
  DELIVERING: 'DELIVERING',
  DELIVERED: 'DELIVERED',
  FAILED: 'FAILED',
} as const;
export type DeliveryStage = (typeof DeliveryStage)[keyof typeof DeliveryStage];

/** Start-time attributes of a notification workflow: whom it tells about which runtime. */
export const notificationAttributes = (tenantId: string, applicationId: string, runtimeId?: string): SearchAttributePair[] => [
  { key: MeridianTenant, value: tenantId },
  { key: MeridianApplicationId, value: applicationId },
  ...(runtimeId ? [{ key: MeridianRuntimeId, value: runtimeId }] : []),
  { key: MeridianStage, value: DeliveryStage.DELIVERING },
];
