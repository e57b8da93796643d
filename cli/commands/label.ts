// `meridian label …`: labels of applications and runtimes, and the definitions (JSON Schemas) they must satisfy.
import type { Command } from 'commander';
import { examples, jsonValue, kindPath } from '../arguments.js';
import type { Context } from '../context.js';
import { table } from '../output.js';

/** Adds `label set|delete|define|definitions|undefine`. */
export function labelCommands(program: Command, ctx: Context): void {
  const label = program.command('label').description('labels of apps and runtimes, and the JSON Schemas that define them (admin)');
  /** The path of one label of the app or runtime `ref`. */
  const labelPath = async (cmd: Command, kind: string, ref: string, key: string) => {
    const objects = kindPath(kind);
    return `/v1/${objects}/${(await ctx.resolve(cmd, objects, ref)).id}/labels/${encodeURIComponent(key)}`;
  };
  examples(
    label.command('set <kind> <ref> <key> <value>').description('set a label (value parsed as JSON when it can be)').action(async (kind: string, ref: string, key: string, value: string, _o, cmd: Command) => {
      await ctx.admin(cmd, 'PUT', await labelPath(cmd, kind, ref, key), jsonValue(value));
      ctx.print(cmd, { [key]: jsonValue(value) }, () => `${key}=${value}\n`);
    }),
    'meridian label set app billing tier \'"gold"\'',
  );
  examples(
    label.command('delete <kind> <ref> <key>').description('remove a label').action(async (kind: string, ref: string, key: string, _o, cmd: Command) => {
      await ctx.admin(cmd, 'DELETE', await labelPath(cmd, kind, ref, key));
      ctx.print(cmd, { deleted: key }, () => `deleted ${key}\n`);
    }),
    'meridian label delete runtime edge-1 tier',
  );
  const definitionPath = (key: string) => `/v1/label-definitions/${encodeURIComponent(key)}`;
  examples(
    label
      .command('define <key> <schema>')
      .description('define the JSON Schema (draft 2020-12) every label <key> must satisfy; refused (with a few offenders) while existing labels break it')
      .action(async (key: string, schema: string, _o, cmd: Command) => {
        const definition = await ctx.admin(cmd, 'PUT', definitionPath(key), { schema: jsonValue(schema) });
        ctx.print(cmd, definition, () => `${key}: ${JSON.stringify(definition.schema)}\n`);
      }),
    'meridian label define env \'{"type":"string","enum":["dev","staging","prod"]}\'',
  );
  examples(
    label.command('definitions').description('list the label definitions of the tenant').action(async (_o, cmd: Command) => {
      const { items } = await ctx.admin(cmd, 'GET', '/v1/label-definitions');
      ctx.print(cmd, items, () => table(['KEY', 'SCHEMA', 'UPDATED'], (items as Array<{ key: string; schema: unknown; updatedAt: string }>).map((d) => [d.key, JSON.stringify(d.schema), d.updatedAt])));
    }),
    'meridian label definitions',
  );
  examples(
    label.command('undefine <key>').description('remove the definition of <key>: its labels are no longer checked').action(async (key: string, _o, cmd: Command) => {
      await ctx.admin(cmd, 'DELETE', definitionPath(key));
      ctx.print(cmd, { undefined: key }, () => `${key} is no longer defined\n`);
    }),
    'meridian label undefine env',
  );
}
