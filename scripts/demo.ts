// `npm run demo [-- --keep]`: plays the whole story (demo/story.ts) against the Meridian at MERIDIAN_URL
// (default http://127.0.0.1:8080, as `npm start` serves it), or against one it starts in a temporary
// folder when none answers. Exits 0 when all eight steps were verified, 1 at the first that was not.
// The sample application listens on 127.0.0.1, so that Meridian must run with
// MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true (the one started here does; `npm start` needs it set).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { embeddedUrl } from '../dev/embedded-postgres.js';
import { createPool } from '../db/pool.js';
import { createAdminToken, ensureTenant } from '../db/tenants.js';
import { StepFailed, playStory } from '../demo/story.js';
import { loadConfig } from '../lib/config.js';
import { LocalStack, stackEnv } from '../dev/local-stack.js';

const keep = process.argv.includes('--keep');
/** The sample application is a loopback receiver: Meridian's outbound guard refuses it without this setting. */
const ALLOW_LOOPBACK = 'MERIDIAN_OUTBOUND_ALLOW_PRIVATE=true';
const url = process.env.MERIDIAN_URL ?? 'http://127.0.0.1:8080';

/** An admin token of the `demo` tenant, from the running stack's PostgreSQL (like `meridian token create`). */
async function demoToken(): Promise<string> {
  const config = loadConfig();
  const pool = createPool(config.databaseUrl ?? embeddedUrl(path.join(config.dataDir, 'postgres'), config.embeddedPostgresPort), undefined, 1);
  try {
    const tenant = await ensureTenant(pool, 'demo');
    return await createAdminToken(pool, tenant.id, `demo-${new Date().toISOString()}`);
  } finally {
    await pool.end();
  }
}

let stack: LocalStack | undefined;
let dir: string | undefined;
let code = 0;
try {
  let target = { url, adminToken: process.env.MERIDIAN_TOKEN ?? '', ui: process.env.MERIDIAN_TEMPORAL_UI ?? 'http://localhost:8233' };
  if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) {
    console.log(`Meridian at ${url}`);
    console.log(`(the sample application listens on 127.0.0.1: Meridian delivers its webhooks and calls its API only when started with ${ALLOW_LOOPBACK})`);
    target.adminToken ||= await demoToken();
  } else {
    console.log(`No Meridian answers at ${url}; starting one in a temporary folder, with ${ALLOW_LOOPBACK} (the sample application listens on 127.0.0.1) …`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-demo-'));
    fs.chmodSync(dir, 0o755);
    stack = new LocalStack({ ...(await stackEnv(path.join(dir, 'data'))), MERIDIAN_OUTBOUND_ALLOW_PRIVATE: 'true' });
    console.log(`ready in ${((await stack.start()) / 1000).toFixed(1)} s`);
    target = { url: stack.url, adminToken: stack.adminToken!, ui: `http://localhost:${stack.env.TEMPORAL_UI_PORT}` };
  }
  await playStory({ ...target, keep });
} catch (error) {
  console.error(`\n✘ ${error instanceof StepFailed ? error.message : (error as Error).stack}`);
  code = 1;
} finally {
  await stack?.interrupt();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
