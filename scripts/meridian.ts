// `npm run meridian -- <command>`: operator commands that talk to PostgreSQL directly.
import path from 'node:path';
import { DnsName } from '../api/schemas.js';
import { embeddedUrl } from '../db/embedded.js';
import { createPool } from '../db/pool.js';
import { createAdminToken, ensureTenant } from '../db/tenants.js';
import { loadConfig } from '../lib/config.js';
import { addKey, loadKeyring, removeKeys } from '../lib/encryption.js';
import { keyUsage, reencryptAll } from '../db/keys.js';
import { runMain } from '../lib/main.js';

const USAGE = `usage: npm run meridian -- <command>

  tenant create <name>                          create a tenant (DNS-1123 name), or show the existing one
  tenant list                                   list tenants
  token create --tenant <name> [--name <label>] create an admin token; it is printed once
  token revoke --tenant <name> --name <label>   revoke an admin token
  keys list                                     encryption keys and how many stored secrets each one seals
  keys rotate                                   a new current key (key file), then re-encrypt every secret under it
  keys prune                                    drop keys that seal nothing any more (wait one runtime-token
                                                lifetime, 60 min, after a rotation: in-flight provisioning
                                                workflows hold a token sealed under the old key)

Connects to DATABASE_URL, or to the embedded PostgreSQL of a running \`npm start\`.`;

class UsageError extends Error {}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
}

function required(args: string[], name: string): string {
  const value = option(args, name);
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

runMain(async () => {
  const args = process.argv.slice(2);
  const [noun, verb, arg] = args;
  const config = loadConfig();
  const url = config.databaseUrl ?? embeddedUrl(path.join(config.dataDir, 'postgres'), config.embeddedPostgresPort);
  const pool = createPool(url, undefined, 2);
  const keyringOf = () => loadKeyring(config.dataDir, config.encryptionKey, config.previousEncryptionKeys);
  try {
    const tenantId = async (name: string) => {
      const { rows } = await pool.query<{ id: string }>('SELECT id FROM tenants WHERE name = $1', [name]);
      if (!rows[0]) throw new Error(`no tenant named "${name}"`);
      return rows[0].id;
    };
    switch (`${noun} ${verb}`) {
      case 'tenant create': {
        if (!arg) throw new UsageError('tenant create needs a name');
        const name = DnsName.safeParse(arg);
        if (!name.success) throw new Error(`tenant name: ${name.error.issues[0]?.message}`);
        const tenant = await ensureTenant(pool, name.data);
        console.log(`tenant ${tenant.name} ${tenant.id}`);
        break;
      }
      case 'tenant list': {
        const { rows } = await pool.query<{ id: string; name: string }>('SELECT id, name FROM tenants ORDER BY name');
        for (const row of rows) console.log(`${row.name}\t${row.id}`);
        break;
      }
      case 'token create': {
        const id = await tenantId(required(args, 'tenant'));
        const token = await createAdminToken(pool, id, option(args, 'name') ?? `cli-${new Date().toISOString()}`);
        console.log(token);
        console.error('(shown once; only its hash is stored)');
        break;
      }
      case 'token revoke': {
        const id = await tenantId(required(args, 'tenant'));
        const { rowCount } = await pool.query('UPDATE admin_tokens SET revoked_at = now() WHERE tenant_id = $1 AND name = $2 AND revoked_at IS NULL', [
          id,
          required(args, 'name'),
        ]);
        if (!rowCount) throw new Error('no such live token');
        console.log('revoked');
        break;
      }
      case 'keys list': {
        const keyring = keyringOf();
        const usage = await keyUsage(pool);
        for (const id of keyring.keys.keys()) console.log(`${id}\t${id === keyring.current ? 'current' : 'previous'}\t${usage.get(id) ?? 0} secrets`);
        for (const [id, n] of usage) if (!keyring.keys.has(id)) console.log(`${id}\tMISSING\t${n} secrets cannot be decrypted`);
        break;
      }
      case 'keys rotate': {
        const keyring = keyringOf();
        if (keyring.file) console.log(`new current key ${addKey(keyring)} in ${keyring.file}`);
        else console.log(`re-encrypting under MERIDIAN_ENCRYPTION_KEY (${keyring.current})`);
        console.log(`re-encrypted ${await reencryptAll(pool, keyring)} secrets; every secret is now sealed under ${keyring.current}`);
        break;
      }
      case 'keys prune': {
        const keyring = keyringOf();
        const usage = await keyUsage(pool);
        const unused = [...keyring.keys.keys()].filter((id) => id !== keyring.current && !usage.get(id));
        const inUse = [...keyring.keys.keys()].filter((id) => id !== keyring.current && usage.get(id));
        if (keyring.file) removeKeys(keyring, unused);
        console.log(unused.length ? `${keyring.file ? 'removed' : 'unused (remove them from MERIDIAN_ENCRYPTION_PREVIOUS_KEYS)'}: ${unused.join(', ')}` : 'no unused key');
        if (inUse.length) console.log(`still sealing secrets (run keys rotate first): ${inUse.join(', ')}`);
        break;
      }
      default:
        throw new UsageError(noun ? `unknown command: ${[noun, verb].filter(Boolean).join(' ')}` : 'a command is required');
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw error;
  } finally {
    await pool.end();
  }
});
