// `meridian api …` and `meridian event …`: the application's API and event definitions (mTLS).
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { examples } from '../arguments.js';
import { CommandFailed, type Answer, type Context } from '../context.js';
import { table } from '../output.js';

interface SpecOptions {
  specFile?: string;
  specUrl?: string;
  specType?: string;
  specFormat?: string;
}

const definitionColumns = ['ID', 'NAME', 'SPEC', 'STATUS', 'MESSAGE'];
const definitionRow = (d: Answer) => [d.id, d.name, d.spec ? `${d.spec.type}/${d.spec.format}` : undefined, d.spec?.status, d.spec?.message];

/** The spec of a definition from --spec-file (read here) or --spec-url (fetched by Meridian). */
const specOf = (o: SpecOptions, defaultType: string) => {
  if (!o.specFile && !o.specUrl) return undefined;
  const source = o.specFile ?? o.specUrl!;
  const format = o.specFormat ?? (/\.ya?ml$/i.test(source) ? 'YAML' : /\.(xml|edmx)$/i.test(source) ? 'XML' : 'JSON');
  return { type: o.specType ?? defaultType, format, ...(o.specFile ? { data: fs.readFileSync(o.specFile, 'utf8') } : { fetchUrl: o.specUrl }) };
};

/** Registers a definition, prints it, and fails when its spec was refused. */
async function register(ctx: Context, cmd: Command, urlPath: string, body: unknown): Promise<void> {
  const created = await ctx.asApplication(cmd, 'POST', urlPath, body);
  ctx.print(cmd, created, () => table(definitionColumns, [definitionRow(created)]));
  if (created.spec?.status === 'FAILED') throw new CommandFailed(`the spec was refused: ${created.spec.message}`);
}

/** Adds `api register|list` and `event register`. */
export function definitionCommands(program: Command, ctx: Context): void {
  const api = program.command('api').description("the application's API definitions (mTLS)");
  examples(
    api
      .command('register <name>')
      .description('register an API (the spec is validated before the answer)')
      .requiredOption('--target-url <url>', 'where the API is served')
      .option('--description <text>', 'description')
      .option('--spec-file <file>', 'OpenAPI or OData document')
      .option('--spec-url <url>', 'or where Meridian fetches it')
      .addOption(new Option('--spec-type <type>', 'spec type').choices(['OPENAPI', 'ODATA']))
      .addOption(new Option('--spec-format <format>', 'spec format (default from the file name)').choices(['JSON', 'YAML', 'XML']))
      .action(async (name: string, o: SpecOptions & { targetUrl: string; description?: string }, cmd: Command) =>
        register(ctx, cmd, '/v1/application/apis', { name, targetUrl: o.targetUrl, description: o.description, spec: specOf(o, 'OPENAPI') }),
      ),
    'meridian api register orders --target-url https://billing.example.com/api --spec-file openapi.yaml',
  );
  examples(
    api.command('list').description("the application's APIs").action(async (_o, cmd: Command) => {
      const page = await ctx.asApplication(cmd, 'GET', '/v1/application/apis');
      ctx.print(cmd, page.items, () => table(definitionColumns, page.items.map(definitionRow)));
    }),
    'meridian api list',
  );

  const event = program.command('event').description("the application's event definitions (mTLS)");
  examples(
    event
      .command('register <name>')
      .description('register an event definition (AsyncAPI)')
      .option('--description <text>', 'description')
      .option('--spec-file <file>', 'AsyncAPI document')
      .option('--spec-url <url>', 'or where Meridian fetches it')
      .addOption(new Option('--spec-format <format>', 'spec format (default from the file name)').choices(['JSON', 'YAML']))
      .action(async (name: string, o: SpecOptions & { description?: string }, cmd: Command) =>
        register(ctx, cmd, '/v1/application/events', { name, description: o.description, spec: specOf(o, 'ASYNCAPI') }),
      ),
    'meridian event register order-created --spec-file asyncapi.yaml',
  );
}
