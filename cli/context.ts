// What every command of `meridian` shares: the global options, printing (a table or --json), calls to
// the public API as an administrator and to the mTLS listener as the application, name → id
// resolution, one pager, the database, and the three ways a command fails (exit codes 1 and 2).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { adminRequest } from '../client/admin.js';
import { MtlsClient, loadCredentials } from '../client/connector.js';
import { createPool } from '../db/pool.js';
import { tenantByName } from '../db/tenants.js';
import { embeddedUrl } from '../dev/embedded-postgres.js';
import { loadConfig, type Config } from '../lib/config.js';
import { readSecret } from './arguments.js';
import type { Io } from './output.js';

/** An answer of the API: JSON shaped as docs/api.md describes it; the CLI prints it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
export type Answer = any;

/** An answer of Meridian with a problem+json body: the command fails with exit code 1. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly problem: { detail?: string; errors?: Array<{ path: string; message: string }> } | undefined,
  ) {
    super(`${problem?.detail ?? `HTTP ${status}`}${problem?.errors?.length ? `\n${problem.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}` : ''}`);
  }
}

/** Arguments the parser accepted but the command cannot use: usage is printed, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly command?: Command,
  ) {
    super(message);
  }
}

/** A failure that is not the API's (an operation that FAILED, a missing file): exit code 1. */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

/** The options of `meridian` itself, valid before or after any command. */
export interface Globals {
  url: string;
  /** Where the admin token is read from (`-`: standard input); else MERIDIAN_TOKEN. */
  adminTokenFile?: string;
  json?: boolean;
  dir: string;
  ui: string;
}

/** Objects that are found by id or by name. */
export type ObjectPath = 'applications' | 'runtimes';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The status and body of a call: the body, or ApiError for a refusal. */
const ok = (res: { status: number; body: Answer }): Answer => {
  if (res.status >= 400) throw new ApiError(res.status, res.body);
  return res.body;
};

/** One context per program: `env` stands in for process.env so tests run the CLI in-process. */
export class Context {
  /** The admin token once read (standard input can be read only once). */
  private adminToken?: string;

  constructor(
    readonly io: Io,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  globals(cmd: Command): Globals {
    return cmd.optsWithGlobals<Globals>();
  }

  /** Prints `value` as JSON with --json, else what `human` makes of it. */
  print(cmd: Command, value: unknown, human: () => string): void {
    this.io.out(this.globals(cmd).json ? `${JSON.stringify(value, null, 2)}\n` : human());
  }

  /** The public API and the admin token (--admin-token-file, else MERIDIAN_TOKEN); UsageError when there is no token. */
  adminAccess(cmd: Command): { url: string; token: string } {
    const { url, adminTokenFile } = this.globals(cmd);
    const token = (this.adminToken ??= readSecret(adminTokenFile, this.env, 'MERIDIAN_TOKEN', 'admin token'));
    if (!token) throw new UsageError('an admin token is required: set MERIDIAN_TOKEN or use --admin-token-file <file> (- for standard input)', cmd);
    return { url, token };
  }

  /** Calls the public API as an administrator. */
  async admin(cmd: Command, method: string, urlPath: string, body?: unknown): Promise<Answer> {
    const { url, token } = this.adminAccess(cmd);
    return ok(await adminRequest(url, token, method, urlPath, body));
  }

  /** Calls the mTLS listener as the application whose certificate is in --dir. */
  async asApplication(cmd: Command, method: string, urlPath: string, body?: unknown): Promise<Answer> {
    const dir = this.globals(cmd).dir;
    if (!fs.existsSync(path.join(dir, 'client.crt'))) throw new CommandFailed(`no certificate in ${dir}: run meridian connect --token <t> --dir ${dir} first`);
    const client = new MtlsClient(loadCredentials(dir));
    try {
      return ok(await client.request(method, urlPath, body));
    } finally {
      client.close();
    }
  }

  /** Every page of an admin list (`query` without limit and cursor), one after the other. */
  async *pages(cmd: Command, kind: string, query = ''): AsyncGenerator<Answer[]> {
    for (let cursor: string | null = ''; cursor !== null; ) {
      const page: { items: Answer[]; nextCursor: string | null } = await this.admin(cmd, 'GET', `/v1/${kind}?limit=100${query ? `&${query}` : ''}${cursor ? `&cursor=${cursor}` : ''}`);
      yield page.items;
      cursor = page.nextCursor;
    }
  }

  /** The items of every page of an admin list. */
  async listAll(cmd: Command, kind: string, query = ''): Promise<Answer[]> {
    const items: Answer[] = [];
    for await (const page of this.pages(cmd, kind, query)) items.push(...page);
    return items;
  }

  /** An application or runtime by id or by name. */
  async resolve(cmd: Command, kind: ObjectPath, ref: string): Promise<Answer> {
    if (UUID.test(ref)) return this.admin(cmd, 'GET', `/v1/${kind}/${ref}`);
    for await (const page of this.pages(cmd, kind)) {
      const found = page.find((item: { name: string }) => item.name === ref);
      if (found) return found;
    }
    throw new CommandFailed(`no ${kind.slice(0, -1)} named "${ref}"`);
  }

  /** The Temporal UI page of a workflow. */
  uiLink(cmd: Command, workflowId: string): string {
    return `${this.globals(cmd).ui}/namespaces/${this.env.TEMPORAL_NAMESPACE ?? 'default'}/workflows/${encodeURIComponent(workflowId)}`;
  }

  /** Commands on PostgreSQL and Temporal (a CA rotation): the database as {@link withDatabase}, Temporal as configured (TEMPORAL_ADDRESS, or the dev server of `npm start`). */
  async withPlane<T>(use: (plane: { pool: pg.Pool; temporal: Client; config: Config }) => Promise<T>): Promise<T> {
    return this.withDatabase(async (pool, config) => {
      // Loaded here: only these commands need the Temporal client, and every other starts faster without it.
      const { connectClient } = await import('../lib/temporal.js');
      const temporal = await connectClient(config.temporal);
      try {
        return await use({ pool, temporal, config });
      } finally {
        await temporal.connection.close();
      }
    });
  }

  /** PostgreSQL commands: DATABASE_URL, or the embedded server of a running `npm start`. */
  async withDatabase<T>(use: (pool: pg.Pool, config: Config) => Promise<T>): Promise<T> {
    const config = loadConfig(this.env);
    const pool = createPool(config.databaseUrl ?? embeddedUrl(path.join(config.dataDir, 'postgres'), config.embeddedPostgresPort), undefined, 2);
    try {
      return await use(pool, config);
    } finally {
      await pool.end();
    }
  }
}

/** Who runs the CLI, as the audit trail (and a CA rotation) names an operator acting on PostgreSQL directly. */
export function operator(): string {
  try {
    return `operator:${os.userInfo().username}`;
  } catch {
    return `operator:${process.env.USER ?? 'unknown'}`;
  }
}

/** The id of the tenant named `name`; CommandFailed when there is none. */
export async function tenantId(pool: pg.Pool, name: string): Promise<string> {
  const tenant = await tenantByName(pool, name);
  if (!tenant) throw new CommandFailed(`no tenant named "${name}"`);
  return tenant.id;
}
