// `meridian scenario …`: scenarios, and which of them an application or a runtime is a member of.
import type { Command } from 'commander';
import { examples, jsonValue, kindPath, pairs } from '../arguments.js';
import type { Context } from '../context.js';
import { table } from '../output.js';
import { showOperation, watchOperation } from './op.js';

/** Adds `scenario create|list|delete|set|assign|assignments|unassign`. */
export function scenarioCommands(program: Command, ctx: Context): void {
  const scenario = program.command('scenario').description('scenarios, memberships and automatic assignment by label (admin)');
  examples(
    scenario.command('create <name>').description('create a scenario').action(async (name: string, _o, cmd: Command) => {
      const created = await ctx.admin(cmd, 'POST', '/v1/scenarios', { name });
      ctx.print(cmd, created, () => `scenario ${created.name}\n`);
    }),
    'meridian scenario create payments',
  );
  examples(
    scenario.command('list').description('list scenarios').action(async (_o, cmd: Command) => {
      const items = await ctx.listAll(cmd, 'scenarios');
      ctx.print(cmd, items, () => table(['NAME', 'CREATED'], items.map((s) => [s.name, s.createdAt])));
    }),
    'meridian scenario list',
  );
  examples(
    scenario.command('delete <name>').description('delete an unused scenario').action(async (name: string, _o, cmd: Command) => {
      await ctx.admin(cmd, 'DELETE', `/v1/scenarios/${encodeURIComponent(name)}`);
      ctx.print(cmd, { deleted: name }, () => `deleted ${name}\n`);
    }),
    'meridian scenario delete payments',
  );
  examples(
    scenario
      .command('set <kind> <ref> [names...]')
      .description('replace the scenarios of an app or a runtime')
      .action(async (kind: string, ref: string, names: string[], _o, cmd: Command) => {
        const objects = kindPath(kind);
        const updated = await ctx.admin(cmd, 'PUT', `/v1/${objects}/${(await ctx.resolve(cmd, objects, ref)).id}/scenarios`, names);
        ctx.print(cmd, updated, () => `${updated.name}: ${updated.scenarios.join(', ') || '(none)'}\n`);
      }),
    'meridian scenario set app billing payments DEFAULT',
    'meridian scenario set runtime edge-1 payments',
  );
  const assignments = (name: string) => `/v1/scenarios/${encodeURIComponent(name)}/assignments`;
  examples(
    scenario
      .command('assign <name> <key=value>')
      .description('runtimes whose label <key> equals <value> (JSON when it parses) join the scenario, now and whenever they are created or relabelled; a scenario may have several')
      .option('--wait', 'follow the pass over existing runtimes until it is done')
      .action(async (name: string, selector: string, o: { wait?: boolean }, cmd: Command) => {
        const [[key, value]] = Object.entries(pairs([selector], '<key=value>')) as [[string, string]];
        const created = await ctx.admin(cmd, 'POST', assignments(name), { selector: { key, value: jsonValue(value) } });
        if (o.wait) return watchOperation(ctx, cmd, created.operation.id);
        ctx.print(cmd, created, () => `${name}: runtimes with ${key}=${JSON.stringify(created.assignment.selector.value)}\n${showOperation(ctx, cmd, created.operation)}`);
      }),
    'meridian scenario assign payments env=prod --wait',
  );
  examples(
    scenario.command('assignments <name>').description("the scenario's automatic assignments").action(async (name: string, _o, cmd: Command) => {
      const { items } = await ctx.admin(cmd, 'GET', assignments(name));
      const rows = (items as Array<{ id: string; selector: { key: string; value: unknown }; createdAt: string }>).map((a) => [a.id, a.selector.key, JSON.stringify(a.selector.value), a.createdAt]);
      ctx.print(cmd, items, () => table(['ID', 'KEY', 'VALUE', 'CREATED'], rows));
    }),
    'meridian scenario assignments payments',
  );
  examples(
    scenario
      .command('unassign <name> [id]')
      .description('remove one assignment (by id), or all of the scenario\'s: runtimes that were members only through them leave; members by hand stay')
      .option('--wait', 'follow the pass until it is done')
      .action(async (name: string, id: string | undefined, o: { wait?: boolean }, cmd: Command) => {
        const op = await ctx.admin(cmd, 'DELETE', id ? `${assignments(name)}/${encodeURIComponent(id)}` : assignments(name));
        if (o.wait) return watchOperation(ctx, cmd, op.id);
        ctx.print(cmd, op, () => showOperation(ctx, cmd, op));
      }),
    'meridian scenario unassign payments --wait',
    'meridian scenario unassign payments 3f0c…',
  );
}
