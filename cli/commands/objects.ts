// What `meridian app` and `meridian runtime` share: their tables and their `list` command.
import type { Command } from 'commander';
import { collect, examples } from '../arguments.js';
import type { Answer, Context, ObjectPath } from '../context.js';
import { table } from '../output.js';

type Row = Parameters<typeof table>[1][number];

export const appColumns = ['ID', 'NAME', 'CONDITION', 'SCENARIOS', 'CREATED'];
export const appRow = (a: Answer): Row => [a.id, a.name, a.status.condition, a.scenarios, a.createdAt];
export const runtimeColumns = ['ID', 'NAME', 'PROVIDER', 'CONDITION', 'SCENARIOS', 'EVENT URL'];
export const runtimeRow = (r: Answer): Row => [r.id, r.name, r.provider, r.status.condition, r.scenarios, r.eventUrl];

const listQuery = (o: { scenario?: string; label?: string[] }) =>
  [o.scenario && `scenario=${encodeURIComponent(o.scenario)}`, ...(o.label ?? []).map((l) => `label=${encodeURIComponent(l)}`)].filter(Boolean).join('&');

/** `<noun> list [--scenario] [--label]`: every page, as one table. */
export const listCommand = (ctx: Context, parent: Command, kind: ObjectPath, columns: string[], row: (item: Answer) => Row) =>
  examples(
    parent
      .command('list')
      .description(`list ${kind}`)
      .option('--scenario <name>', 'only members of this scenario')
      .option('--label <key=value>', 'only with this label (repeatable)', collect)
      .action(async (o: { scenario?: string; label?: string[] }, cmd: Command) => {
        const items = await ctx.listAll(cmd, kind, listQuery(o));
        ctx.print(cmd, items, () => table(columns, items.map(row)));
      }),
    `meridian ${parent.name()} list --scenario DEFAULT --json`,
  );
