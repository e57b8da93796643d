// Delivery replay: administrators send an application's deliveries again, the application its own
// (mTLS). One delivery (DELIVERED or FAILED), or every FAILED one created since a time; each keeps its
// id, so receivers deduplicate. The rules are in services/redelivery.ts.
import type { Client } from '@temporalio/client';
import type { Request } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { applicationExists } from '../../db/applications.js';
import type { DeliveryOwner } from '../../db/deliveries.js';
import {
  DeliveryNotFound,
  MAX_REDELIVERIES_PER_REQUEST,
  RedeliveryRefused,
  redeliverFailed,
  redeliverOne,
  type BatchRedelivery,
  type SingleRedelivery,
} from '../../services/redelivery.js';
import { tenantOf } from '../auth.js';
import { conflict, notFound } from '../problems.js';
import { route, type Reply, type Route } from '../route.js';
import { Id, Timestamp } from '../schemas.js';
import { Delivery, toDelivery } from './application-reads.js';
import { workflowLink, type WorkflowLink } from './operations.js';

/** An RFC 3339 date-time, UTC (`Z`) or with an offset. */
const DateTime = z.iso.datetime({ offset: true, error: 'must be an RFC 3339 date-time, e.g. 2026-05-01T00:00:00Z' });

const RedeliveryParams = z.strictObject({ id: Id, deliveryId: Id });
const OwnRedeliveryParams = z.strictObject({ deliveryId: Id });

export const FailedSince = z
  .strictObject({
    since: DateTime.meta({ description: 'FAILED deliveries created at or after this time are redelivered' }),
    until: DateTime.meta({ description: 'and before this one, when given; it must be after `since`' }).optional(),
    limit: z
      .number({ error: 'must be a number' })
      .int('must be an integer')
      .min(1, `must be between 1 and ${MAX_REDELIVERIES_PER_REQUEST}`)
      .max(MAX_REDELIVERIES_PER_REQUEST, `must be between 1 and ${MAX_REDELIVERIES_PER_REQUEST}`)
      .meta({ description: `Redeliver at most this many, oldest first (default and most: ${MAX_REDELIVERIES_PER_REQUEST})` })
      .optional(),
  })
  .refine((body) => body.until === undefined || Date.parse(body.until) > Date.parse(body.since), { path: ['until'], message: 'must be after since' });

/** One delivery sent again. */
const Redelivery = z.object({
  /** The delivery, PENDING again, with its redelivery counted. */
  delivery: Delivery,
  /** The workflow that sends it: `redelivery:<deliveryId>:<n>`. */
  workflowId: z.string(),
  temporalUiUrl: z.url().optional(),
});

/** FAILED deliveries sent again. */
const Redeliveries = z.object({
  scheduled: z.number().int(),
  deliveryIds: z.array(z.uuid()),
  /** The workflow that sends them (`redeliveries:<applicationId>:<first deliveryId>:<n>`); null when none was scheduled. */
  workflowId: z.string().nullable(),
  /** More FAILED deliveries remain after these: ask again with `since` = `nextSince`. */
  more: z.boolean(),
  nextSince: Timestamp.nullable(),
  /** FAILED deliveries of the window that cannot be redelivered: made before 016_delivery_replay, or to a disabled webhook. */
  skipped: z.object({ withoutEvent: z.number().int(), webhookDisabled: z.number().int() }),
  temporalUiUrl: z.url().optional(),
});

const SINGLE_REFUSALS = {
  409: 'the delivery is PENDING (still being delivered), was made before Meridian kept what it sent (016_delivery_replay), or its webhook is disabled',
};
const BATCH_REFUSALS = { 400: '`until` is not after `since`' };

export interface RedeliveryRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  temporalUiUrl?: string;
}

/** The service's refusals as problems. */
async function answering<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof DeliveryNotFound) throw notFound(error.message);
    if (error instanceof RedeliveryRefused) throw conflict(error.message);
    throw error;
  }
}

const singleReply = (result: SingleRedelivery, owner: DeliveryOwner, link?: WorkflowLink): Reply => {
  const temporalUiUrl = link?.(result.workflowId);
  return { status: 202, body: { delivery: toDelivery(result.delivery, owner.applicationId, link), workflowId: result.workflowId, ...(temporalUiUrl && { temporalUiUrl }) } };
};

const batchReply = (result: BatchRedelivery, link?: WorkflowLink): Reply => {
  const temporalUiUrl = link?.(result.workflowId);
  return {
    status: result.workflowId ? 202 : 200,
    body: {
      scheduled: result.deliveryIds.length,
      deliveryIds: result.deliveryIds,
      workflowId: result.workflowId,
      more: result.more,
      nextSince: result.nextSince?.toISOString() ?? null,
      skipped: result.skipped,
      ...(temporalUiUrl && { temporalUiUrl }),
    },
  };
};

const failedWindow = (owner: DeliveryOwner, body: z.infer<typeof FailedSince>) => ({ ...owner, since: new Date(body.since), ...(body.until && { until: new Date(body.until) }) });

const BATCH_RESPONSES = {
  202: { description: 'Scheduled: how many, which, and the workflow that sends them', schema: Redeliveries },
  200: { description: 'Nothing to redeliver in the window (`scheduled: 0`)', schema: Redeliveries },
};

/** `POST /v1/applications/{id}/deliveries/{deliveryId}/redelivery` and `POST /v1/applications/{id}/redeliveries` (admin). */
export function redeliveryRoutes(deps: RedeliveryRouteDeps): Route[] {
  const link = workflowLink(deps);
  const ownerOf = async (req: Request, applicationId: string): Promise<DeliveryOwner> => {
    const tenantId = tenantOf(req);
    if (!(await applicationExists(deps.pool, tenantId, applicationId))) throw notFound('no such application');
    return { tenantId, applicationId };
  };
  return [
    route({
      method: 'post',
      path: '/v1/applications/{id}/deliveries/{deliveryId}/redelivery',
      operationId: 'redeliver-application-delivery',
      summary: 'Send one delivery (DELIVERED or FAILED) of the application again, with the same delivery id',
      tag: 'applications',
      auth: 'admin',
      params: RedeliveryParams,
      responses: { 202: { description: 'Scheduled: the delivery is PENDING again', schema: Redelivery } },
      refusals: SINGLE_REFUSALS,
      handle: async ({ req, params }) => {
        const owner = await ownerOf(req, params.id);
        return singleReply(await answering(redeliverOne(deps, owner, params.deliveryId)), owner, link);
      },
    }),
    route({
      method: 'post',
      path: '/v1/applications/{id}/redeliveries',
      operationId: 'redeliver-application-failed-deliveries',
      summary: `Send every FAILED delivery of the application created since a time again (at most ${MAX_REDELIVERIES_PER_REQUEST} a request, oldest first)`,
      tag: 'applications',
      auth: 'admin',
      params: z.strictObject({ id: Id }),
      body: FailedSince,
      responses: BATCH_RESPONSES,
      refusals: BATCH_REFUSALS,
      handle: async ({ req, params, body }) => {
        const owner = await ownerOf(req, params.id);
        return batchReply(await answering(redeliverFailed(deps, failedWindow(owner, body), body.limit)), link);
      },
    }),
  ];
}

/** `POST /v1/application/deliveries/{deliveryId}/redelivery` and `POST /v1/application/redeliveries` (the application, mTLS: its own deliveries only). */
export function ownRedeliveryRoutes(deps: RedeliveryRouteDeps): Route[] {
  const ownerOf = (req: Request): DeliveryOwner => ({ tenantId: req.client!.tenantId, applicationId: req.client!.id });
  return [
    route({
      method: 'post',
      path: '/v1/application/deliveries/{deliveryId}/redelivery',
      operationId: 'redeliver-own-delivery',
      summary: 'Send one of the caller’s deliveries (DELIVERED or FAILED) again, with the same delivery id',
      tag: 'application',
      auth: 'application',
      params: OwnRedeliveryParams,
      responses: { 202: { description: 'Scheduled: the delivery is PENDING again', schema: Redelivery } },
      refusals: SINGLE_REFUSALS,
      handle: async ({ req, params }) => {
        const owner = ownerOf(req);
        return singleReply(await answering(redeliverOne(deps, owner, params.deliveryId)), owner);
      },
    }),
    route({
      method: 'post',
      path: '/v1/application/redeliveries',
      operationId: 'redeliver-own-failed-deliveries',
      summary: `Send every FAILED delivery of the caller created since a time again (at most ${MAX_REDELIVERIES_PER_REQUEST} a request, oldest first)`,
      tag: 'application',
      auth: 'application',
      body: FailedSince,
      responses: BATCH_RESPONSES,
      refusals: BATCH_REFUSALS,
      handle: async ({ req, body }) => batchReply(await answering(redeliverFailed(deps, failedWindow(ownerOf(req), body), body.limit))),
    }),
  ];
}
