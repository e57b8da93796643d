// Installs npm dependencies when they are missing or older than package-lock.json.
// Plain JavaScript on purpose: it runs before anything else is installed.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const mtime = (file) => {
  try {
    return statSync(new URL(file, `file://${root}/`)).mtimeMs;
  } catch {
    return 0;
  }
};

if (mtime('node_modules/.package-lock.json') < mtime('package-lock.json')) {
  console.error('meridian: installing npm dependencies (npm ci) ...');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('meridian: npm ci failed');
    process.exit(result.status ?? 1);
  }
}
