// `meridian audit`: the tenant's audit trail (GET /v1/audit), newest first, filtered like the API.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ACTOR_KINDS } from '../../db/acting.js';
import { examples } from '../arguments.js';
import type { Answer, Context } from '../context.js';
import { table } from '../output.js';

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An RFC 3339 time as it is, or `<n>m|h|d` as that long before now. */
const pointInTime = (text: string) => {
  const ago = /^(\d+)([mhd])$/.exec(text);
  if (ago) return new Date(Date.now() - Number(ago[1]) * UNITS[ago[2]!]!).toISOString();
  if (/^\d{4}-\d{2}-\d{2}T/.test(text) && !Number.isNaN(Date.parse(text))) return text;
  throw new InvalidArgumentError('must be an RFC 3339 time (2025-01-31T08:00:00Z) or a duration ago (30m, 12h, 7d)');
};

const count = (text: string) => {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InvalidArgumentError('must be a positive number');
  return Number(text);
};

interface AuditOptions {
  since?: string;
  until?: string;
  actor?: string;
  kind?: string;
  resource?: string;
  action?: string;
  limit: number;
}

const queryOf = (o: AuditOptions) =>
  (['since', 'until', 'actor', 'resource', 'action'] as const)
    .filter((key) => o[key] !== undefined)
    .map((key) => `${key}=${encodeURIComponent(o[key]!)}`)
    .concat(o.kind ? [`actorKind=${o.kind}`] : [])
    .join('&');

const auditRow = (e: Answer) => [e.at, e.actor, e.action, e.resource, e.status ?? e.detail?.stage, e.requestId];

/** Adds `audit`. */
export function auditCommands(program: Command, ctx: Context): void {
  examples(
    program
      .command('audit')
      .description("the tenant's audit trail, newest first: who changed what, when (admin)")
      .option('--since <time>', 'entries at or after this time: RFC 3339, or a duration ago (30m, 12h, 7d)', pointInTime)
      .option('--until <time>', 'entries before this time (same forms)', pointInTime)
      .option('--actor <actor>', 'exactly this actor: admin:<token name>, application:<id>, runtime:<id>, workflow:<workflow id>, …')
      .addOption(new Option('--kind <kind>', 'only actors of this kind').choices([...ACTOR_KINDS]))
      .option('--resource <path>', 'this resource and what lies under it, e.g. /v1/runtimes/<id>')
      .option('--action <action>', 'exactly this action, e.g. create-runtime, operation-failed')
      .option('--limit <n>', 'at most this many entries', count, 50)
      .action(async (o: AuditOptions, cmd: Command) => {
        const entries: Answer[] = [];
        for await (const page of ctx.pages(cmd, 'audit', queryOf(o))) {
          entries.push(...page);
          if (entries.length >= o.limit) break;
        }
        const shown = entries.slice(0, o.limit);
        ctx.print(cmd, shown, () => table(['AT', 'ACTOR', 'ACTION', 'RESOURCE', 'STATUS', 'REQUEST'], shown.map(auditRow)));
      }),
    'meridian audit --since 24h',
    'meridian audit --actor admin:ops --resource /v1/runtimes',
    'meridian audit --kind workflow --action operation-failed --json',
  );
}
