// `meridian label …`: labels of applications and runtimes.
import type { Command } from 'commander';
import { examples, jsonValue, kindPath } from '../arguments.js';
import type { Context } from '../context.js';

/** Adds `label set|delete`. */
export function labelCommands(program: Command, ctx: Context): void {
  const label = program.command('label').description('labels of apps and runtimes (admin)');
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
}
