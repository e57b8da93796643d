// `meridian webhook …`: where the application hears of runtimes and configuration changes (mTLS).
import type { Command } from 'commander';
import { examples, readSecret, refuseSecretOption } from '../arguments.js';
import type { Context } from '../context.js';
import { redeliveryRequest, redeliverySummary, withRedeliverOptions, type RedeliverOptions } from './deliveries.js';

/** Adds `webhook add|redeliver`. */
export function webhookCommands(program: Command, ctx: Context): void {
  const webhook = program.command('webhook').description("the application's webhooks (mTLS)");
  const add = webhook
    .command('add <url>')
    .description('receive runtime.connected, runtime.removed and configuration.changed at <url>')
    .option('--secret-file <file>', 'sign deliveries with HMAC-SHA256 (16+ characters) under the secret in this file, - for standard input (or env MERIDIAN_WEBHOOK_SECRET)')
    .action(async (url: string, o: { secretFile?: string }, cmd: Command) => {
      const secret = readSecret(o.secretFile, ctx.env, 'MERIDIAN_WEBHOOK_SECRET', 'webhook secret');
      const created = await ctx.asApplication(cmd, 'POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url, secret });
      ctx.print(cmd, created, () => `webhook ${created.id} → ${created.url}${created.hasSecret ? ' (signed)' : ''}\n`);
    });
  refuseSecretOption(add, '--secret <secret>', 'use --secret-file <file> (- for standard input) or MERIDIAN_WEBHOOK_SECRET');
  examples(add, 'printf %s "$WEBHOOK_SECRET" | meridian webhook add https://billing.example.com/meridian --secret-file -');
  examples(
    withRedeliverOptions(webhook.command('redeliver [deliveryId]')).action(async (deliveryId: string | undefined, o: RedeliverOptions, cmd: Command) => {
      const { path, body } = redeliveryRequest(deliveryId, o, cmd);
      const answer = await ctx.asApplication(cmd, 'POST', `/v1/application/${path}`, body);
      ctx.print(cmd, answer, () => redeliverySummary(ctx, cmd, answer, false));
    }),
    'meridian webhook redeliver 0b6f…                     # the delivery with this Meridian-Delivery id, again',
    'meridian webhook redeliver --failed-since 7d         # every delivery that FAILED in the last 7 days',
  );
}
