// The one fan-out of `configuration.changed` to applications: routes call it after a change commits.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { markAnnounced, pendingAnnouncements, type Announcement } from '../db/credentials.js';
import { notificationAttributes, workflowId } from '../workflows/ids.js';
import { notifyApplication } from '../workflows/notify.js';

export interface AnnouncementDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  logger: { warn(object: object, message: string): void };
}

/**
 * Tells applications, with `configuration.changed`, about slots that became PENDING for connected
 * runtimes (a runtime joined their scenario, or they registered an API). Runs after the change commits;
 * the event id (pair + transaction) makes a repeated call deliver once, and a call that did not
 * happen (crash) is made up by the tenant's next one. Failures are logged, never thrown.
 */
export async function announcePendingSlots(deps: AnnouncementDeps, tenantId: string): Promise<void> {
  await announceAll(deps, tenantId).catch((error: Error) => deps.logger.warn({ tenantId, err: error.message }, 'pending credential slots not announced yet'));
}

/** Starts one notification per pending announcement of the tenant, then marks it announced. */
async function announceAll(deps: AnnouncementDeps, tenantId: string): Promise<void> {
  for (const announcement of await pendingAnnouncements(deps.pool, tenantId)) {
    await startNotification(deps, tenantId, announcement);
    await markAnnounced(deps.pool, announcement);
  }
}

/** Starts the application's notification workflow for the announcement; an already started one is the same event. */
async function startNotification(deps: AnnouncementDeps, tenantId: string, a: Announcement): Promise<void> {
  const eventId = `configuration.changed:${a.runtimeId}:${a.txid}`;
  await deps.temporal.workflow
    .start(notifyApplication, {
      workflowId: workflowId.notify(a.applicationId, eventId),
      taskQueue: deps.taskQueue,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `Deliver configuration.changed (credential slots of runtime ${a.runtimeId}) to application ${a.applicationId}`,
      args: [
        {
          tenantId,
          applicationId: a.applicationId,
          eventId,
          event: { type: 'configuration.changed', runtime: { id: a.runtimeId, name: a.runtimeName, eventUrl: a.eventUrl }, configVersion: a.configVersion, occurredAt: new Date().toISOString() },
        },
      ],
      typedSearchAttributes: notificationAttributes(tenantId, a.applicationId, a.runtimeId),
    })
    .catch((error: unknown) => {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    });
}
