// `meridian scenario …`: scenarios, and which of them an application or a runtime is a member of.
import type { Command } from 'commander';
import { examples, kindPath } from '../arguments.js';
import type { Context } from '../context.js';
import { table } from '../output.js';

/** Adds `scenario create|list|delete|set`. */
export function scenarioCommands(program: Command, ctx: Context): void {
  const scenario = program.command('scenario').description('scenarios and memberships (admin)');
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
}
