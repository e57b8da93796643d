// After `tsc`: prebuild the workflow bundle, copy the SQL migrations and build the console, so `dist/` runs on its own.
import fs from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { MIGRATIONS_DIR } from '../db/migrate.js';
import { WORKFLOWS_PATH } from '../worker/worker.js';
import { buildConsole } from '../dev/console.js';

const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
fs.writeFileSync('dist/workflow-bundle.js', code);
fs.cpSync(MIGRATIONS_DIR, 'dist/db/migrations', { recursive: true });
console.log(`dist/workflow-bundle.js (${(code.length / 1024).toFixed(0)} KiB) and dist/db/migrations written`);
console.log(`${await buildConsole()} written (the console)`);
