// `meridian template …`: application templates, and applications made from them with placeholder values.
import fs from 'node:fs';
import type { Command } from 'commander';
import { OperationUnreadable, untilFinished } from '../../client/admin.js';
import { collect, examples, pairs } from '../arguments.js';
import { ApiError, CommandFailed, type Answer, type Context } from '../context.js';
import { details, table } from '../output.js';
import { appColumns, appRow } from './objects.js';

/** The JSON of `file` (`-`: standard input); CommandFailed when it cannot be read or is not JSON. */
function readJson(file: string): unknown {
  const where = file === '-' ? 'standard input' : file;
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new CommandFailed(`cannot read ${where}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CommandFailed(`${where} is not JSON: ${(error as Error).message}`);
  }
}

const operationColumns = ['OPERATION', 'DEFINITION', 'STATE', 'MESSAGE'];
const operationRow = (op: Answer) => [op.id, op.resourceId, op.state, op.message];

/** Adds `template create|list|show|delete|apply`. */
export function templateCommands(program: Command, ctx: Context): void {
  const template = program.command('template').description('application templates, and applications made from them (admin)');
  /** A template of the tenant, by id or by name. */
  const templateOf = async (cmd: Command, ref: string): Promise<Answer> => {
    for await (const page of ctx.pages(cmd, 'application-templates')) {
      const found = page.find((t: { id: string; name: string }) => t.id === ref || t.name === ref);
      if (found) return ctx.admin(cmd, 'GET', `/v1/application-templates/${found.id}`);
    }
    throw new CommandFailed(`no application template named "${ref}"`);
  };

  examples(
    template
      .command('create <file>')
      .description('create a template from a JSON file (- for standard input): {name, description, placeholders: [{name, description}], application: {…}}')
      .action(async (file: string, _o, cmd: Command) => {
        const created = await ctx.admin(cmd, 'POST', '/v1/application-templates', readJson(file));
        ctx.print(cmd, created, () => `template ${created.name} ${created.id}\nplaceholders: ${created.placeholders.map((p: { name: string }) => p.name).join(', ') || '(none)'}\n`);
      }),
    'meridian template create shop.json',
  );
  examples(
    template.command('list').description('list the templates of the tenant by name').action(async (_o, cmd: Command) => {
      const items = await ctx.listAll(cmd, 'application-templates');
      ctx.print(cmd, items, () => table(['ID', 'NAME', 'PLACEHOLDERS', 'CREATED'], items.map((t) => [t.id, t.name, t.placeholders.map((p: { name: string }) => p.name), t.createdAt])));
    }),
    'meridian template list',
  );
  examples(
    template.command('show <template>').description('one template (by id or name), its placeholders and its application').action(async (ref: string, _o, cmd: Command) => {
      const t = await templateOf(cmd, ref);
      ctx.print(cmd, t, () =>
        details([
          ['id', t.id],
          ['name', t.name],
          ['description', t.description],
          ...t.placeholders.map((p: { name: string; description?: string }): [string, string] => [`{{${p.name}}}`, p.description ?? '']),
          ['created', t.createdAt],
          ['application', JSON.stringify(t.application, null, 2)],
        ]),
      );
    }),
    'meridian template show shop',
  );
  examples(
    template.command('delete <template>').description('delete a template (by id or name); applications made from it stay').action(async (ref: string, _o, cmd: Command) => {
      const t = await templateOf(cmd, ref);
      await ctx.admin(cmd, 'DELETE', `/v1/application-templates/${t.id}`);
      ctx.print(cmd, { deleted: t.id }, () => `deleted ${t.name}\n`);
    }),
    'meridian template delete shop',
  );
  examples(
    template
      .command('apply <template>')
      .description("create an application from a template (by id or name), a value for each placeholder; its definitions' specs are registered")
      .option('--set <name=value>', 'the value of a placeholder (repeatable)', collect)
      .option('--wait', 'wait until every spec is registered; exit 1 when one FAILED')
      .action(async (ref: string, o: { set?: string[]; wait?: boolean }, cmd: Command) => {
        const t = await templateOf(cmd, ref);
        const created = await ctx.admin(cmd, 'POST', `/v1/application-templates/${t.id}/applications`, { values: pairs(o.set, '--set') });
        if (o.wait) {
          const { url, token } = ctx.adminAccess(cmd);
          created.operations = await Promise.all(
            created.operations.map((op: Answer) =>
              untilFinished(url, token, op.id, { timeoutMs: Infinity, intervalMs: 250 }).catch((error: unknown) => {
                throw error instanceof OperationUnreadable ? new ApiError(error.status, error.problem) : error;
              }),
            ),
          );
        }
        const follow = created.operations.length > 0 && !o.wait ? `follow them: meridian op watch <operation>\n` : '';
        ctx.print(cmd, created, () => `${table(appColumns, [appRow(created)])}\n${table(operationColumns, created.operations.map(operationRow))}${follow}`);
        const failed = created.operations.filter((op: Answer) => op.state === 'FAILED');
        if (failed.length > 0) throw new CommandFailed(`${failed.length} spec registration(s) FAILED: ${failed.map((op: Answer) => `${op.resourceId}: ${op.message ?? ''}`).join('; ')}`);
      }),
    'meridian template apply shop --set app=shop-eu --set region=eu --wait',
  );
}
