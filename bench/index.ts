// `npm run bench`: measured figures, printed; nothing here asserts. Each benchmark runs against the
// real components (its own `npm start` stack in a temporary folder, on ephemeral ports).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certificateIssuance } from './certificates.js';
import { credentialPropagation } from './credentials.js';
import { pairings } from './pairing.js';
import { registrations } from './registration.js';
import { localProvisioning, simulatedScale } from './runtimes.js';
import { LocalStack, stackEnv } from '../dev/local-stack.js';

const only = process.argv[2];

console.log(`Meridian benchmarks on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`);

if (!only || only === 'certificates') certificateIssuance();

const counts = (process.env.BENCH_RUNTIMES ?? '100,300').split(',').map(Number);

/** A stack of its own in a temporary folder, on ephemeral ports; removed afterwards. */
async function withStack(env: Record<string, string>, use: (stack: LocalStack, dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-bench-'));
  fs.chmodSync(dir, 0o755);
  const stack = new LocalStack({ ...(await stackEnv(path.join(dir, 'data'))), MERIDIAN_RUNTIME_HOST: 'false', ...env });
  try {
    console.log(`stack ready in ${((await stack.start()) / 1000).toFixed(1)} s`);
    await use(stack, dir);
  } finally {
    await stack.interrupt();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (!only || only === 'credentials') {
  await withStack({}, (stack) => credentialPropagation(stack, 'with configuration hints', 600));
  await withStack({ MERIDIAN_CONFIG_HINTS: 'false' }, (stack) => credentialPropagation(stack, 'hints disabled: the poll alone', 10, 50, 10_000));
}

if (!only || ['pairing', 'registration', 'runtimes'].includes(only)) {
  await withStack({}, async (stack, dir) => {
    if (!only || only === 'pairing') await pairings(stack.url, stack.adminToken!);
    if (!only || only === 'registration') await registrations(stack.url, stack.adminToken!);
    if (!only || only === 'runtimes') {
      if (process.env.BENCH_SKIP_LOCAL !== '1') await localProvisioning(stack);
      await simulatedScale(stack, path.join(dir, 'data'), counts);
    }
  });
}
