// `meridian keys …`: the encryption keys of secrets at rest (the key file and PostgreSQL).
import type { Command } from 'commander';
import { keyUsage, reencryptAll } from '../../db/keys.js';
import type { Config } from '../../lib/config.js';
import { addKey, loadKeyring, removeKeys } from '../../trust/encryption.js';
import { examples } from '../arguments.js';
import type { Context } from '../context.js';

const keyringOf = (config: Config) => loadKeyring(config.dataDir, config.encryptionKey, config.previousEncryptionKeys);

/** Adds `keys list|rotate|prune`. */
export function keysCommands(program: Command, ctx: Context): void {
  const keys = program.command('keys').description('encryption keys of secrets at rest (PostgreSQL and the key file)');
  examples(
    keys.command('list').description('keys and how many stored secrets each one seals').action(async (_o, cmd: Command) => {
      const rows = await ctx.withDatabase(async (pool, config) => {
        const keyring = keyringOf(config);
        const usage = await keyUsage(pool);
        return [
          ...[...keyring.keys.keys()].map((id) => ({ id, role: id === keyring.current ? 'current' : 'previous', secrets: usage.get(id) ?? 0 })),
          ...[...usage].filter(([id]) => !keyring.keys.has(id)).map(([id, secrets]) => ({ id, role: 'MISSING', secrets })),
        ];
      });
      ctx.print(cmd, rows, () => rows.map((r) => `${r.id}\t${r.role}\t${r.secrets} secrets\n`).join(''));
    }),
    'meridian keys list',
  );
  examples(
    keys.command('rotate').description('a new current key (key file), then every secret re-encrypted under it').action(async (_o, cmd: Command) => {
      const result = await ctx.withDatabase(async (pool, config) => {
        const keyring = keyringOf(config);
        const added = keyring.file ? addKey(keyring) : undefined;
        return { newKey: added, current: keyring.current, reencrypted: await reencryptAll(pool, keyring) };
      });
      ctx.print(
        cmd,
        result,
        () =>
          `${result.newKey ? `new current key ${result.newKey}\n` : `re-encrypting under MERIDIAN_ENCRYPTION_KEY (${result.current})\n`}re-encrypted ${result.reencrypted} secrets; every secret is now sealed under ${result.current}\n`,
      );
    }),
    'meridian keys rotate && meridian keys list',
  );
  examples(
    keys
      .command('prune')
      .description('drop keys that seal nothing any more (wait one runtime-token lifetime, 60 min, after a rotation)')
      .action(async (_o, cmd: Command) => {
        const result = await ctx.withDatabase(async (pool, config) => {
          const keyring = keyringOf(config);
          const usage = await keyUsage(pool);
          const previous = [...keyring.keys.keys()].filter((id) => id !== keyring.current);
          const unused = previous.filter((id) => !usage.get(id));
          if (keyring.file) removeKeys(keyring, unused);
          return { removed: keyring.file ? unused : [], unused, inUse: previous.filter((id) => usage.get(id)), file: Boolean(keyring.file) };
        });
        ctx.print(cmd, result, () => {
          const lines = [result.unused.length ? `${result.file ? 'removed' : 'unused (remove them from MERIDIAN_ENCRYPTION_PREVIOUS_KEYS)'}: ${result.unused.join(', ')}` : 'no unused key'];
          if (result.inUse.length) lines.push(`still sealing secrets (run keys rotate first): ${result.inUse.join(', ')}`);
          return `${lines.join('\n')}\n`;
        });
      }),
    'meridian keys prune',
  );
}
