import { createHmac } from 'node:crypto';
import { ApplicationFailure, activityInfo } from '@temporalio/activity';
import type pg from 'pg';
import { open, type Keyring } from '../trust/encryption.js';
import { refusedLiteralHost } from '../lib/outbound.js';

export interface WebhookDeps {
  pool: pg.Pool;
  keyring: Keyring;
}

/** The JSON body of the Application Webhook API (API.md); it carries no secret. */
export interface NotificationBody {
  id: string;
  type: 'runtime.connected' | 'runtime.removed' | 'configuration.changed';
  applicationId: string;
  runtime: { id: string; name: string; eventUrl: string | null };
  configVersion: number;
  occurredAt: string;
}

export interface PlannedDelivery {
  deliveryId: string;
  webhookId: string;
}

/** One attempt's answer time limit (API.md: no answer within 10 s is a failed attempt). */
export const ATTEMPT_TIMEOUT_MS = 10_000;

/** Activities of webhook delivery and fan-out. Secrets are decrypted here, per attempt, and never returned. */
export function createWebhookActivities({ pool, keyring }: WebhookDeps) {
  const record = (deliveryId: string, fields: { state?: string; status?: number | null; error?: string | null }) =>
    pool.query(
      `UPDATE deliveries SET attempts = attempts + 1, state = COALESCE($2, state), last_status = $3, last_error = $4, updated_at = now() WHERE id = $1`,
      [deliveryId, fields.state ?? null, fields.status ?? null, fields.error ?? null],
    );

  return {
    /** One delivery per enabled CONFIGURATION_CHANGED webhook of the application; the same event twice yields the same deliveries. */
    async planDeliveries(input: { applicationId: string; eventId: string; eventType: string }): Promise<PlannedDelivery[]> {
      const { rows } = await pool.query<PlannedDelivery>(
        `INSERT INTO deliveries (tenant_id, application_id, webhook_id, event_id, event_type)
         SELECT tenant_id, application_id, id, $2, $3 FROM webhooks
          WHERE application_id = $1 AND type = 'CONFIGURATION_CHANGED' AND disabled_at IS NULL
         ON CONFLICT (webhook_id, event_id) DO UPDATE SET updated_at = deliveries.updated_at
         RETURNING id AS "deliveryId", webhook_id AS "webhookId"`,
        [input.applicationId, input.eventId, input.eventType],
      );
      return rows;
    },

    /**
     * POSTs the body to the webhook, signed with its secret when it has one. 2xx delivers; 410
     * disables the webhook (non-retryable); anything else is thrown to be retried with backoff.
     */
    async deliver({ deliveryId, webhookId, body }: PlannedDelivery & { body: NotificationBody }): Promise<number> {
      const { rows } = await pool.query<{ url: string; secret_ciphertext: Buffer | null; secret_key_id: string | null; disabled_at: Date | null }>(
        'SELECT url, secret_ciphertext, secret_key_id, disabled_at FROM webhooks WHERE id = $1',
        [webhookId],
      );
      const webhook = rows[0];
      if (!webhook || webhook.disabled_at) {
        await record(deliveryId, { state: 'FAILED', error: 'the webhook was removed or disabled' });
        throw ApplicationFailure.nonRetryable('the webhook was removed or disabled', 'WebhookGone');
      }
      const refused = refusedLiteralHost(webhook.url);
      if (refused) {
        await record(deliveryId, { state: 'FAILED', error: `refused: ${refused}` });
        throw ApplicationFailure.nonRetryable(`refused: ${refused}`, 'WebhookRefused');
      }
      const raw = JSON.stringify(body);
      const headers: Record<string, string> = { 'content-type': 'application/json', 'meridian-delivery': deliveryId, 'user-agent': 'Meridian-Webhook/1' };
      if (webhook.secret_ciphertext && webhook.secret_key_id) {
        const secret = open(keyring, { ciphertext: webhook.secret_ciphertext, keyId: webhook.secret_key_id });
        headers['meridian-signature'] = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
      }
      let status: number;
      try {
        const res = await fetch(webhook.url, { method: 'POST', headers, body: raw, redirect: 'manual', signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
        status = res.status;
        await res.body?.cancel();
      } catch (error) {
        const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s` : `${(error as Error).message}`;
        await record(deliveryId, { error: reason });
        throw ApplicationFailure.retryable(`attempt ${activityInfo().attempt} failed: ${reason}`, 'DeliveryFailed');
      }
      if (status >= 200 && status < 300) {
        await record(deliveryId, { state: 'DELIVERED', status });
        return status;
      }
      if (status === 410) {
        await pool.query(`UPDATE webhooks SET disabled_at = now(), disabled_reason = 'the receiver answered 410 Gone' WHERE id = $1`, [webhookId]);
        await record(deliveryId, { state: 'FAILED', status, error: 'the receiver answered 410 Gone; the webhook is disabled' });
        throw ApplicationFailure.nonRetryable('the receiver answered 410 Gone', 'WebhookGone');
      }
      await record(deliveryId, { status, error: `HTTP ${status}` });
      throw ApplicationFailure.retryable(`attempt ${activityInfo().attempt} failed: HTTP ${status}`, 'DeliveryFailed');
    },

    async markDeliveryFailed({ deliveryId, reason }: { deliveryId: string; reason: string }): Promise<void> {
      await pool.query(`UPDATE deliveries SET state = 'FAILED', last_error = COALESCE(last_error, $2), updated_at = now() WHERE id = $1 AND state = 'PENDING'`, [
        deliveryId,
        reason,
      ]);
    },

    /** Applications of the runtime's tenant that share at least one scenario with it. */
    async applicationsSharingRuntime({ runtimeId }: { runtimeId: string }): Promise<string[]> {
      const { rows } = await pool.query<{ id: string }>(
        `SELECT DISTINCT a.application_id AS id FROM runtime_scenarios r
         JOIN application_scenarios a ON a.tenant_id = r.tenant_id AND a.scenario = r.scenario
         WHERE r.runtime_id = $1 ORDER BY 1`,
        [runtimeId],
      );
      return rows.map((r) => r.id);
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
