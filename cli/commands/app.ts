// `meridian app …`: applications through the admin API.
import type { Command } from 'commander';
import { collect, examples, labels } from '../arguments.js';
import type { Context } from '../context.js';
import { details, table } from '../output.js';
import { deliveryColumns, deliveryRow, redeliveryRequest, redeliverySummary, withRedeliverOptions, type RedeliverOptions } from './deliveries.js';
import { appColumns, appRow, listCommand } from './objects.js';
import { showOperation } from './op.js';
import { pairInto } from './connect.js';

/** Adds `app create|list|show|delete|pair|deliveries|redeliver`. */
export function appCommands(program: Command, ctx: Context): void {
  const app = program.command('app').description('applications (admin)');
  examples(
    app
      .command('create <name>')
      .description('create an application')
      .option('--description <text>', 'description')
      .option('--scenario <name>', 'scenario to join (repeatable; default DEFAULT)', collect)
      .option('--label <key=value>', 'label (repeatable; value parsed as JSON when it can be)', collect)
      .action(async (name: string, o: { description?: string; scenario?: string[]; label?: string[] }, cmd: Command) => {
        const created = await ctx.admin(cmd, 'POST', '/v1/applications', { name, description: o.description, scenarios: o.scenario, labels: labels(o.label) });
        ctx.print(cmd, created, () => table(appColumns, [appRow(created)]));
      }),
    'meridian app create billing --scenario DEFAULT --label team=payments',
  );
  listCommand(ctx, app, 'applications', appColumns, appRow);
  examples(
    app.command('show <app>').description('one application, by id or name').action(async (ref: string, _o, cmd: Command) => {
      const a = await ctx.resolve(cmd, 'applications', ref);
      ctx.print(cmd, a, () =>
        details([
          ['id', a.id],
          ['name', a.name],
          ['description', a.description],
          ['condition', a.status.condition],
          ...(a.status.message ? [['message', a.status.message] as [string, string]] : []),
          ['scenarios', a.scenarios],
          ['labels', JSON.stringify(a.labels)],
          ['created', a.createdAt],
        ]),
      );
    }),
    'meridian app show billing',
  );
  examples(
    app.command('delete <app>').description('unregister an application (by id or name)').action(async (ref: string, _o, cmd: Command) => {
      const op = await ctx.admin(cmd, 'DELETE', `/v1/applications/${(await ctx.resolve(cmd, 'applications', ref)).id}`);
      ctx.print(cmd, op, () => showOperation(ctx, cmd, op));
    }),
    'meridian app delete billing',
  );
  examples(
    app
      .command('pair <app>')
      .description('a one-time pairing token for the application (give it to `meridian connect`); with --connect, pair it at once into --dir')
      .option('--connect', 'also exchange the token as the application (key, CSR, certificate into --dir): one command pairs it, or pairs it again once DISCONNECTED')
      .action(async (ref: string, o: { connect?: boolean }, cmd: Command) => {
        const pairing = await ctx.admin(cmd, 'POST', `/v1/applications/${(await ctx.resolve(cmd, 'applications', ref)).id}/pairing`);
        if (o.connect) {
          // The token goes from the answer straight into the exchange: never printed.
          const connected = await pairInto(ctx, cmd, pairing.connectorUrl, pairing.token);
          ctx.print(cmd, { ...connected, operationId: pairing.operationId }, () => `connected as ${connected.name} (${connected.id}); key and certificate in ${connected.dir}\n`);
          return;
        }
        ctx.print(cmd, pairing, () =>
          details([
            ['token', pairing.token],
            ['expires', pairing.expiresAt],
            ['connector', pairing.connectorUrl],
            ['operation', pairing.operationId],
            ['next', 'meridian connect --token-file <file with the token, or - for standard input> --dir <dir>'],
          ]),
        );
      }),
    'meridian app pair billing',
    'meridian app pair billing --connect --dir ./billing-certs   # pairs (again) in one step: the key never leaves ./billing-certs',
  );
  examples(
    app
      .command('deliveries <app>')
      .description("the application's most recent webhook deliveries, newest first")
      .option('--limit <n>', 'how many (1-100)', '50')
      .action(async (ref: string, o: { limit: string }, cmd: Command) => {
        const id = (await ctx.resolve(cmd, 'applications', ref)).id;
        const { items } = await ctx.admin(cmd, 'GET', `/v1/applications/${id}/deliveries?limit=${encodeURIComponent(o.limit)}`);
        ctx.print(cmd, items, () => table(deliveryColumns, items.map(deliveryRow)));
      }),
    'meridian app deliveries billing --limit 10',
  );
  examples(
    withRedeliverOptions(app.command('redeliver <app> [deliveryId]')).action(async (ref: string, deliveryId: string | undefined, o: RedeliverOptions, cmd: Command) => {
      const { path, body } = redeliveryRequest(deliveryId, o, cmd);
      const id = (await ctx.resolve(cmd, 'applications', ref)).id;
      const answer = await ctx.admin(cmd, 'POST', `/v1/applications/${id}/${path}`, body);
      ctx.print(cmd, answer, () => redeliverySummary(ctx, cmd, answer, true));
    }),
    'meridian app redeliver billing 0b6f…                  # one delivery, DELIVERED or FAILED, with its id',
    'meridian app redeliver billing --failed-since 24h     # every FAILED delivery of the last 24 hours',
    'meridian app redeliver billing --failed-since 2026-05-01T00:00:00Z --until 2026-05-02T00:00:00Z',
  );
}
