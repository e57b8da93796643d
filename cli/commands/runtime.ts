// `meridian runtime …`: runtimes through the admin API; --wait follows their operation.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { workflowId } from '../../workflows/ids.js';
import { collect, examples, labels } from '../arguments.js';
import type { Context } from '../context.js';
import { details, table } from '../output.js';
import { listCommand, runtimeColumns, runtimeRow } from './objects.js';
import { showOperation, watchOperation } from './op.js';

const seconds = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a number of seconds');
  return Number(v);
};

/** Adds `runtime create|list|show|delete`. */
export function runtimeCommands(program: Command, ctx: Context): void {
  const runtime = program.command('runtime').description('runtimes (admin)');
  examples(
    runtime
      .command('create <name>')
      .description('create and provision a runtime')
      .addOption(new Option('--provider <provider>', 'runtime provider').choices(['local', 'simulated']).default('local'))
      .option('--scenario <name>', 'scenario to join (repeatable)', collect)
      .option('--label <key=value>', 'label (repeatable)', collect)
      .option('--description <text>', 'description')
      .option('--poll-interval <seconds>', 'how often its agent polls its configuration', seconds)
      .option('--wait', 'follow the provisioning stages until it is done')
      .action(async (name: string, o: { provider: string; scenario?: string[]; label?: string[]; description?: string; pollInterval?: number; wait?: boolean }, cmd: Command) => {
        const created = await ctx.admin(cmd, 'POST', '/v1/runtimes', {
          name,
          provider: o.provider,
          scenarios: o.scenario,
          labels: labels(o.label),
          description: o.description,
          pollIntervalSeconds: o.pollInterval,
        });
        if (o.wait) return watchOperation(ctx, cmd, created.operation.id);
        ctx.print(cmd, created, () => `${table(runtimeColumns, [runtimeRow(created.runtime)])}operation ${created.operation.id}: meridian op watch ${created.operation.id}\n`);
      }),
    'meridian runtime create edge-1 --scenario DEFAULT --wait',
    'meridian runtime create sim-1 --provider simulated --poll-interval 10',
  );
  listCommand(ctx, runtime, 'runtimes', runtimeColumns, runtimeRow);
  examples(
    runtime.command('show <runtime>').description('one runtime, by id or name').action(async (ref: string, _o, cmd: Command) => {
      const r = await ctx.resolve(cmd, 'runtimes', ref);
      ctx.print(cmd, r, () =>
        details([
          ['id', r.id],
          ['name', r.name],
          ['provider', r.provider],
          ['condition', r.status.condition],
          ['since', r.status.updatedAt],
          ['message', r.status.message],
          ['last call', r.lastSeenAt ?? 'none recorded'],
          ['scenarios', r.scenarios],
          ['by assignment', r.assignedScenarios],
          ['event url', r.eventUrl],
          ['agent', ctx.uiLink(cmd, workflowId.agent(r.id))],
          ['created', r.createdAt],
        ]),
      );
    }),
    'meridian runtime show edge-1',
  );
  examples(
    runtime
      .command('delete <runtime>')
      .description('deprovision a runtime (by id or name)')
      .option('--wait', 'follow the deprovisioning until it is done')
      .action(async (ref: string, o: { wait?: boolean }, cmd: Command) => {
        const op = await ctx.admin(cmd, 'DELETE', `/v1/runtimes/${(await ctx.resolve(cmd, 'runtimes', ref)).id}`);
        if (o.wait) return watchOperation(ctx, cmd, op.id);
        ctx.print(cmd, op, () => showOperation(ctx, cmd, op));
      }),
    'meridian runtime delete edge-1 --wait',
  );
}
