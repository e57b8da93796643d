import { createHmac } from 'node:crypto';
import { ApplicationFailure, activityInfo } from '@temporalio/activity';
import type pg from 'pg';
import { markDeliveryFailed, planDeliveries, recordAttempt, takeRedeliveries, type DeliveryState, type PlannedDelivery } from '../db/deliveries.js';
import { applicationsSharingRuntime } from '../db/scenarios.js';
import { disableWebhook, webhookTarget } from '../db/webhooks.js';
import { open, type Keyring } from '../trust/encryption.js';
import type { OutboundConfig } from '../lib/config.js';
import { OutboundRefused, outboundRequest } from '../lib/outbound.js';

export interface WebhookDeps {
  pool: pg.Pool;
  keyring: Keyring;
  outbound: OutboundConfig;
}

/** The JSON body of the Application Webhook API (docs/api.md); it carries no secret. */
export interface NotificationBody {
  id: string;
  type: 'runtime.connected' | 'runtime.removed' | 'runtime.unreachable' | 'runtime.reachable' | 'configuration.changed';
  applicationId: string;
  /** The runtime the event is about; null for a `configuration.changed` about Meridian's CAs (`reason`). */
  runtime: { id: string; name: string; eventUrl: string | null } | null;
  /** Why a `configuration.changed` without a runtime was sent: `certificate-authority` (a CA rotation's phase). */
  reason?: 'certificate-authority';
  configVersion: number;
  occurredAt: string;
}

/** What one notification tells every webhook: its body without the delivery's `id` and the `applicationId`. */
export type NotificationEvent = Omit<NotificationBody, 'id' | 'applicationId'>;

export type { PlannedDelivery };

/** One attempt's answer time limit (docs/api.md: no answer within 10 s is a failed attempt). */
export const ATTEMPT_TIMEOUT_MS = 10_000;

/** Activities of webhook delivery and fan-out. Secrets are decrypted here, per attempt, and never returned. */
export function createWebhookActivities({ pool, keyring, outbound }: WebhookDeps) {
  return {
    /**
     * One delivery per enabled CONFIGURATION_CHANGED webhook of the application, each storing the event
     * (for a redelivery later); the same event twice yields the same deliveries.
     */
    async planDeliveries(input: { applicationId: string; eventId: string; eventType: string; event?: NotificationEvent }): Promise<PlannedDelivery[]> {
      return planDeliveries(pool, input);
    },

    /**
     * The deliveries the redelivery workflow `workflowId` sends (PENDING, marked for it), with the events
     * stored when they were first planned; rows that someone else redelivers meanwhile are left out.
     */
    async takeRedeliveries(input: { workflowId: string; deliveryIds: string[]; states: DeliveryState[] }): Promise<Array<PlannedDelivery & { event: NotificationEvent }>> {
      return (await takeRedeliveries(pool, input)) as Array<PlannedDelivery & { event: NotificationEvent }>;
    },

    /**
     * POSTs the body to the webhook through the outbound guard (lib/outbound.ts), signed with its
     * secret when it has one; redirects are not followed. 2xx delivers; 410 disables the webhook and a
     * refused target fails the delivery (both non-retryable); anything else is thrown to be retried
     * with backoff.
     */
    async deliver({ deliveryId, webhookId, body }: PlannedDelivery & { body: NotificationBody }): Promise<number> {
      const webhook = await webhookTarget(pool, webhookId);
      if (!webhook || webhook.disabled) {
        await recordAttempt(pool, deliveryId, { state: 'FAILED', error: 'the webhook was removed or disabled' });
        throw ApplicationFailure.nonRetryable('the webhook was removed or disabled', 'WebhookGone');
      }
      const raw = JSON.stringify(body);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'meridian-delivery': deliveryId, 'user-agent': 'Meridian-Webhook/1' };
      if (webhook.secret) {
        const secret = open(keyring, webhook.secret);
        headers['meridian-signature'] = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
      }
      let status: number;
      try {
        const res = await outboundRequest(webhook.url, { allowPrivate: outbound.allowPrivate, method: 'POST', headers, body: raw, timeoutMs: ATTEMPT_TIMEOUT_MS });
        status = res.statusCode ?? 0;
        // Only the status counts: the answer's body is not read.
        res.destroy();
      } catch (error) {
        if (error instanceof OutboundRefused) {
          await recordAttempt(pool, deliveryId, { state: 'FAILED', error: `refused: ${error.message}` });
          throw ApplicationFailure.nonRetryable(`refused: ${error.message}`, 'WebhookRefused');
        }
        const reason = (error as Error).message;
        await recordAttempt(pool, deliveryId, { error: reason });
        throw ApplicationFailure.retryable(`attempt ${activityInfo().attempt} failed: ${reason}`, 'DeliveryFailed');
      }
      if (status >= 200 && status < 300) {
        await recordAttempt(pool, deliveryId, { state: 'DELIVERED', status });
        return status;
      }
      if (status === 410) {
        await disableWebhook(pool, webhookId, 'the receiver answered 410 Gone');
        await recordAttempt(pool, deliveryId, { state: 'FAILED', status, error: 'the receiver answered 410 Gone; the webhook is disabled' });
        throw ApplicationFailure.nonRetryable('the receiver answered 410 Gone', 'WebhookGone');
      }
      await recordAttempt(pool, deliveryId, { status, error: `HTTP ${status}` });
      throw ApplicationFailure.retryable(`attempt ${activityInfo().attempt} failed: HTTP ${status}`, 'DeliveryFailed');
    },

    async markDeliveryFailed({ deliveryId, reason }: { deliveryId: string; reason: string }): Promise<void> {
      await markDeliveryFailed(pool, deliveryId, reason);
    },

    /** Applications of the runtime's tenant that share at least one scenario with it. */
    async applicationsSharingRuntime({ runtimeId }: { runtimeId: string }): Promise<string[]> {
      return applicationsSharingRuntime(pool, runtimeId);
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
