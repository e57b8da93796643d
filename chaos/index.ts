// `npm run chaos [F1 … F6]`: injects each fault of issue #13 into a real stack of its own (a temporary
// folder, loopback, ephemeral ports), prints one row per fault, and exits non-zero when a row breaks
// its bar: 0 lost, 0 duplicated, 0 unclean answers, 0 exits of processes that were not the target,
// recovered within CHAOS_RECOVERY_SECONDS (120) of the end of the injection. CHAOS_LOG_DIR=<dir> keeps
// the whole output of every process there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MtlsClient } from '../client/connector.js';
import { f1, f2, f3, f4, f5, f6, registrar, RECOVERY_MS } from './faults.js';
import { reap, Stack } from './stack.js';
import { formatEvidence, formatTable, passes, type Row } from './table.js';

const wanted = process.argv.slice(2).map((arg) => arg.toUpperCase());
const want = (fault: string) => wanted.length === 0 || wanted.includes(fault);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-chaos-'));
fs.chmodSync(dir, 0o755); // PostgreSQL runs as the postgres user when this runs as root
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;
const rows: Row[] = [];
let stack: Stack | undefined;

async function cleanup(): Promise<void> {
  await stack?.stop();
  await reap(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

/** Runs one fault; a harness failure (its setup failed) becomes a failing row, so the table still prints. */
async function run(fault: string, title: string, body: () => Promise<Row>): Promise<void> {
  if (!want(fault)) return;
  console.log(`[${elapsed()}] ${fault}: ${title} ...`);
  const row = await body().catch(
    (error: Error): Row => ({ fault, injected: title, what: 'flows', tried: 0, completed: 0, refused: 0, unclean: 0, lost: 0, duplicated: 0, stuck: 0, evidence: [], broken: `harness: ${error.message}` }),
  );
  rows.push(row);
  console.log(`[${elapsed()}] ${fault}: ${passes(row) ? 'ok' : 'FAIL'}`);
}

try {
  console.log(`chaos: ${os.cpus().length} CPUs, Node ${process.version}, folder ${dir}, recovery deadline ${RECOVERY_MS / 1000} s`);
  if (['F1', 'F2', 'F3', 'F4', 'F6'].some(want)) {
    const root = path.join(dir, 'stack');
    fs.mkdirSync(root);
    fs.chmodSync(root, 0o755);
    const s = (stack = await Stack.create(root));
    console.log(`[${elapsed()}] starting PostgreSQL, Temporal, API, worker and runtime host ...`);
    await s.start();
    let client: MtlsClient | undefined;
    const paired = async () => (client ??= await registrar(s));
    /** Every fault starts from a whole, ready stack. */
    const whole = async () => {
      await s.heal();
      if ((await s.untilReady(Date.now() + RECOVERY_MS)) === undefined) throw new Error('the stack is not ready before the fault');
    };
    await run('F1', 'PostgreSQL connections terminated', async () => {
      await whole();
      return f1(s, await paired());
    });
    await run('F2', 'PostgreSQL stopped for 20 s', async () => {
      await whole();
      return f2(s);
    });
    await run('F3', 'worker killed', async () => {
      await whole();
      return f3(s);
    });
    await run('F4', 'Temporal stopped for 20 s', async () => {
      await whole();
      return f4(s, await paired());
    });
    await run('F6', 'malformed requests', async () => {
      await whole();
      return f6(s);
    });
    client?.close();
    await s.stop();
    stack = undefined;
  }
  // A stack of its own, once the other one is gone: two stacks at once are too much for 2 cores.
  await run('F5', '`npm start` killed', () => f5(path.join(dir, 'f5')));
} finally {
  await cleanup();
}

rows.sort((a, b) => a.fault.localeCompare(b.fault));
console.log(`\nchaos: ${rows.length} fault(s) in ${elapsed()}\n`);
console.log(formatTable(rows));
const evidence = formatEvidence(rows);
if (evidence) console.log(`\n${evidence}`);
process.exit(rows.length > 0 && rows.every(passes) ? 0 : 1);
