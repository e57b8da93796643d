import { defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';

/** Meridian's typed search attributes (all Keyword), shared by workflows, API and tests. */
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

/** Start-time attributes of a notification workflow: whom it tells about which runtime. */
export const notificationAttributes = (tenantId: string, applicationId: string, runtimeId: string): SearchAttributePair[] => [
  { key: MeridianTenant, value: tenantId },
  { key: MeridianApplicationId, value: applicationId },
  { key: MeridianRuntimeId, value: runtimeId },
  { key: MeridianStage, value: 'DELIVERING' },
];
