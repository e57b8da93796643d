// The production Temporal server, its schema tool and the Temporal UI server for `npm run cluster`:
// Go modules, built with `go install` from the Go module proxy into `.tools/go/` (pinned versions).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TOOLS_DIR } from './tools.js';

/**
 * The pinned versions. The server module needs Go ≥ 1.26.10: the `go` command fetches this approved
 * toolchain from the module proxy by itself when GOTOOLCHAIN names it.
 */
export const GO_VERSIONS = {
  toolchain: 'go1.27.3',
  server: 'v1.32.2',
  ui: 'v2.56.4',
} as const;

const SERVER_MODULE = 'go.temporal.io/server';
const UI_MODULE = 'github.com/temporalio/ui-server/v2';

export interface ClusterTools {
  /** `temporal-server` (go.temporal.io/server/cmd/server). */
  server: string;
  /** `temporal-sql-tool` (go.temporal.io/server/cmd/tools/sql). */
  sqlTool: string;
  /** The Temporal UI server (github.com/temporalio/ui-server/v2/cmd/server). */
  ui: string;
  /** The server module's source: `config/docker.yaml` (the image's template) and `schema/`. */
  serverModule: string;
  /** The UI module's source: `config/docker.yaml`. */
  uiModule: string;
}

const goEnv = (): NodeJS.ProcessEnv => ({ ...process.env, GOTOOLCHAIN: GO_VERSIONS.toolchain, GOFLAGS: '-mod=mod' });

function go(args: string[], env: NodeJS.ProcessEnv = goEnv()): string {
  try {
    return execFileSync('go', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('the go command is missing: install Go (any 1.21+; it fetches ' + GO_VERSIONS.toolchain + ' itself) to build the Temporal server');
    }
    throw new Error(`go ${args.join(' ')} failed`);
  }
}

/** Builds `pkg@version` into `dir` as `name` unless it is there already. */
function install(dir: string, name: string, pkg: string, version: string): string {
  const binary = path.join(dir, name);
  if (fs.existsSync(binary)) return binary;
  console.error(`meridian: building ${pkg}@${version} into ${path.relative(process.cwd(), dir)}/ (minutes on the first run) ...`);
  const staging = `${dir}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  go(['install', `${pkg}@${version}`], { ...goEnv(), GOBIN: staging });
  fs.mkdirSync(dir, { recursive: true });
  fs.renameSync(path.join(staging, path.basename(pkg)), binary);
  fs.rmSync(staging, { recursive: true, force: true });
  return binary;
}

/** Where the module's source is in the Go module cache (downloaded if missing). */
function moduleDir(module: string, version: string): string {
  const { Dir } = JSON.parse(go(['mod', 'download', '-json', `${module}@${version}`])) as { Dir?: string };
  if (!Dir) throw new Error(`go mod download ${module}@${version} gave no directory`);
  return Dir;
}

/** Finds or builds the cluster's Go binaries (see {@link GO_VERSIONS}). */
export function ensureClusterTools(): ClusterTools {
  const serverDir = path.join(TOOLS_DIR, 'go', `temporal-server-${GO_VERSIONS.server}`);
  const uiDir = path.join(TOOLS_DIR, 'go', `temporal-ui-${GO_VERSIONS.ui}`);
  return {
    server: install(serverDir, 'temporal-server', `${SERVER_MODULE}/cmd/server`, GO_VERSIONS.server),
    sqlTool: install(serverDir, 'temporal-sql-tool', `${SERVER_MODULE}/cmd/tools/sql`, GO_VERSIONS.server),
    ui: install(uiDir, 'temporal-ui-server', `${UI_MODULE}/cmd/server`, GO_VERSIONS.ui),
    serverModule: moduleDir(SERVER_MODULE, GO_VERSIONS.server),
    uiModule: moduleDir(UI_MODULE, GO_VERSIONS.ui),
  };
}
