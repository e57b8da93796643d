// `meridian tenant …` and `meridian token …`: tenants and their admin tokens, in PostgreSQL.
import type { Command } from 'commander';
import type pg from 'pg';
import { DnsName } from '../../api/schemas.js';
import { recordAudit } from '../../db/audit.js';
import { createAdminToken, ensureTenant, listTenants, revokeAdminToken } from '../../db/tenants.js';
import { examples } from '../arguments.js';
import { CommandFailed, operator, tenantId, type Context } from '../context.js';
import { table } from '../output.js';

/** Records a token's creation or revocation in the tenant's audit trail; a failure is told, not fatal (the change is made). */
async function auditToken(ctx: Context, pool: pg.Pool, tenantId: string, action: 'create-admin-token' | 'revoke-admin-token', name: string): Promise<void> {
  await recordAudit(pool, { tenantId, actor: operator(), actorKind: 'operator', action, resource: `/admin-tokens/${name}` }).catch((error: Error) =>
    ctx.io.err(`warning: the audit entry was not recorded: ${error.message}\n`),
  );
}

/** Adds `tenant create|list` and `token create|revoke`. */
export function tenantCommands(program: Command, ctx: Context): void {
  const tenant = program.command('tenant').description('tenants (PostgreSQL: DATABASE_URL or the running npm start)');
  examples(
    tenant.command('create <name>').description('create a tenant (DNS-1123 name), or show the existing one').action(async (name: string, _o, cmd: Command) => {
      const valid = DnsName.safeParse(name);
      if (!valid.success) throw new CommandFailed(`tenant name: ${valid.error.issues[0]?.message}`);
      const created = await ctx.withDatabase((pool) => ensureTenant(pool, name));
      ctx.print(cmd, created, () => `tenant ${created.name} ${created.id}\n`);
    }),
    'meridian tenant create acme',
  );
  examples(
    tenant.command('list').description('list tenants').action(async (_o, cmd: Command) => {
      const rows = await ctx.withDatabase((pool) => listTenants(pool));
      ctx.print(cmd, rows, () => table(['NAME', 'ID'], rows.map((r) => [r.name, r.id])));
    }),
    'meridian tenant list --json',
  );

  const token = program.command('token').description('admin tokens of a tenant (PostgreSQL)');
  examples(
    token
      .command('create')
      .description('create an admin token; it is printed once')
      .requiredOption('--tenant <name>', 'tenant name')
      .option('--name <label>', 'label, to revoke it later')
      .action(async (o: { tenant: string; name?: string }, cmd: Command) => {
        const issued = await ctx.withDatabase(async (pool) => {
          const [id, name] = [await tenantId(pool, o.tenant), o.name ?? `cli-${new Date().toISOString()}`];
          const token = await createAdminToken(pool, id, name);
          await auditToken(ctx, pool, id, 'create-admin-token', name);
          return token;
        });
        ctx.print(cmd, { token: issued }, () => `${issued}\n`);
        ctx.io.err('(shown once; only its hash is stored)\n');
      }),
    'meridian token create --tenant acme --name ops',
  );
  examples(
    token
      .command('revoke')
      .description('revoke an admin token')
      .requiredOption('--tenant <name>', 'tenant name')
      .requiredOption('--name <label>', 'label given at creation')
      .action(async (o: { tenant: string; name: string }, cmd: Command) => {
        const revoked = await ctx.withDatabase(async (pool) => {
          const id = await tenantId(pool, o.tenant);
          const done = await revokeAdminToken(pool, id, o.name);
          if (done) await auditToken(ctx, pool, id, 'revoke-admin-token', o.name);
          return done;
        });
        if (!revoked) throw new CommandFailed('no such live token');
        ctx.print(cmd, { revoked: o.name }, () => 'revoked\n');
      }),
    'meridian token revoke --tenant acme --name ops',
  );
}
