// Webhook deliveries from the command line: an application's recent deliveries (admin), and sending
// them again — `meridian app redeliver` (admin) and `meridian webhook redeliver` (the application, mTLS).
import type { Command } from 'commander';
import { UsageError, type Answer, type Context } from '../context.js';
import { details } from '../output.js';

export const deliveryColumns = ['ID', 'EVENT', 'STATE', 'ATTEMPTS', 'LAST', 'REDELIVERED', 'UPDATED'];
export const deliveryRow = (d: Answer) => [d.id, d.eventId, d.state, d.attempts, [d.lastStatus, d.lastError].filter((v) => v !== null).join(' ') || null, d.redeliveries, d.updatedAt];

const AGO = /^(\d+)([mhd])$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An RFC 3339 time as it is, or `<n>m|h|d` (that long ago) as RFC 3339; UsageError for anything else. */
export function pointInTime(text: string, option: string, now = Date.now()): string {
  const ago = AGO.exec(text);
  if (ago) return new Date(now - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS]).toISOString();
  if (/^\d{4}-\d{2}-\d{2}T/.test(text) && !Number.isNaN(Date.parse(text))) return text;
  throw new UsageError(`${option} must be an RFC 3339 time (2026-05-01T00:00:00Z) or a time ago (30m, 24h, 7d), got "${text}"`);
}

export interface RedeliverOptions {
  failedSince?: string;
  until?: string;
}

/** Adds the options of `redeliver` to `cmd`. */
export const withRedeliverOptions = (cmd: Command) =>
  cmd
    .description('send a delivery (DELIVERED or FAILED) again with the same id, or every FAILED one since a time (at most 1000 a call)')
    .option('--failed-since <time>', 'every FAILED delivery created since then: RFC 3339, or a time ago (30m, 24h, 7d)')
    .option('--until <time>', 'with --failed-since: only those created before then');

/**
 * What `redeliver` asks for, as a path under the deliveries' owner and a body: one delivery, or the
 * FAILED ones of a window. UsageError for neither or both.
 */
export function redeliveryRequest(deliveryId: string | undefined, o: RedeliverOptions, cmd: Command): { path: string; body?: unknown } {
  if (deliveryId !== undefined && o.failedSince !== undefined) throw new UsageError('give a <deliveryId> or --failed-since, not both', cmd);
  if (deliveryId !== undefined) {
    if (o.until !== undefined) throw new UsageError('--until goes with --failed-since', cmd);
    return { path: `deliveries/${encodeURIComponent(deliveryId)}/redelivery` };
  }
  if (o.failedSince === undefined) throw new UsageError('give a <deliveryId>, or --failed-since <time> for every FAILED delivery since then', cmd);
  return { path: 'redeliveries', body: { since: pointInTime(o.failedSince, '--failed-since'), ...(o.until !== undefined && { until: pointInTime(o.until, '--until') }) } };
}

/** The answer of a redelivery in words; for an administrator with the Temporal UI link of its workflow. */
export function redeliverySummary(ctx: Context, cmd: Command, answer: Answer, asAdmin: boolean): string {
  const link = asAdmin && answer.workflowId ? (answer.temporalUiUrl ?? ctx.uiLink(cmd, answer.workflowId)) : undefined;
  if (answer.delivery) {
    return details([
      ['delivery', answer.delivery.id],
      ['state', answer.delivery.state],
      ['redeliveries', answer.delivery.redeliveries],
      ['workflow', answer.workflowId],
      ['temporal ui', link],
    ]);
  }
  return details([
    ['scheduled', answer.scheduled],
    ['workflow', answer.workflowId],
    ['temporal ui', link],
    ['skipped', `${answer.skipped.withoutEvent} made before deliveries were kept, ${answer.skipped.webhookDisabled} to disabled webhooks`],
    ['more', answer.more ? `yes: run again with --failed-since ${answer.nextSince}` : 'no'],
  ]);
}
