// Builds the operators' console (console/: Preact components in TypeScript) into dist/console/: one
// bundled script, the stylesheet and the page. esbuild takes well under a second, so `npm start`, the
// test setup and `npm run build` all build it themselves.
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { CONSOLE_DIR } from '../api/console.js';
import { PROJECT_ROOT } from '../lib/modules.js';

const SOURCE = path.join(PROJECT_ROOT, 'console');

/** Writes dist/console/ (index.html, console.js, console.css); returns its folder. */
export async function buildConsole(outDir = CONSOLE_DIR): Promise<string> {
  fs.mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(SOURCE, 'src', 'main.tsx')],
    outfile: path.join(outDir, 'console.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(SOURCE, 'tsconfig.json'),
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'console.css']) fs.copyFileSync(path.join(SOURCE, file), path.join(outDir, file));
  return outDir;
}
