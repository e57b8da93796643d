// `meridian webhook …`: where the application hears of runtimes and configuration changes (mTLS).
import type { Command } from 'commander';
import { examples } from '../arguments.js';
import type { Context } from '../context.js';

/** Adds `webhook add`. */
export function webhookCommands(program: Command, ctx: Context): void {
  const webhook = program.command('webhook').description("the application's webhooks (mTLS)");
  examples(
    webhook
      .command('add <url>')
      .description('receive runtime.connected, runtime.removed and configuration.changed at <url>')
      .option('--secret <secret>', 'sign deliveries with HMAC-SHA256 (16+ characters)')
      .action(async (url: string, o: { secret?: string }, cmd: Command) => {
        const created = await ctx.asApplication(cmd, 'POST', '/v1/application/webhooks', { type: 'CONFIGURATION_CHANGED', url, secret: o.secret });
        ctx.print(cmd, created, () => `webhook ${created.id} → ${created.url}${created.hasSecret ? ' (signed)' : ''}\n`);
      }),
    'meridian webhook add https://billing.example.com/meridian --secret "$WEBHOOK_SECRET"',
  );
}
