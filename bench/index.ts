// `npm run bench [name]`: measured figures, printed; nothing here asserts. Each benchmark runs against
// the real components: the dev-server stack (`npm start` in a temporary folder, on ephemeral ports).
// `npm run bench -- --cluster [name]` (or BENCH_CLUSTER=1) runs them on the dev-server stack, then on
// the production-shaped cluster (`npm run cluster`, likewise in a temporary folder), and prints both
// side by side.
import os from 'node:os';
import { caRotationUnderLoad } from './ca-rotation.js';
import { certificateIssuance } from './certificates.js';
import { credentialPropagation } from './credentials.js';
import { pairings } from './pairing.js';
import { registrations } from './registration.js';
import { scale } from './scale.js';
import { storm } from './storm.js';
import { printResults, printTable } from './report.js';
import { localProvisioning, simulatedScale } from './runtimes.js';
import { SERVERS, withServer, type Server, type Target } from './servers.js';
import type { Result } from './stats.js';

/** A benchmark against a server: its name on the command line, and what it measures. */
interface Benchmark {
  name: string;
  run(target: Target): Promise<Result | Result[]>;
}

/** Benchmarks that share one start of a server, with what they add to Meridian's environment. */
interface Session {
  env: Record<string, string>;
  benchmarks: Benchmark[];
}

const args = process.argv.slice(2);
const cluster = args.includes('--cluster') || process.env.BENCH_CLUSTER === '1';
const only = args.find((arg) => !arg.startsWith('--'));
const servers: Server[] = cluster ? ['dev', 'cluster'] : ['dev'];

const counts = (process.env.BENCH_RUNTIMES ?? '100,300').split(',').map(Number);
// About 10 s a run; on two servers 20 runs each keep `--cluster credentials` to a few minutes.
const pollRuns = Number(process.env.BENCH_POLL_RUNS ?? (cluster ? 20 : 50));

const SESSIONS: Session[] = [
  { env: { MERIDIAN_AGENT_DESIGN: 'watch' }, benchmarks: [{ name: 'credentials', run: (target) => credentialPropagation(target, 'watch design: the long poll answered at the change', 600) }] },
  { env: { MERIDIAN_AGENT_DESIGN: 'poll' }, benchmarks: [{ name: 'credentials', run: (target) => credentialPropagation(target, 'poll design, with configChanged hints', 600) }] },
  {
    env: { MERIDIAN_AGENT_DESIGN: 'poll', MERIDIAN_CONFIG_HINTS: 'false' },
    benchmarks: [{ name: 'credentials', run: (target) => credentialPropagation(target, 'poll design, hints disabled: the poll alone', 10, pollRuns, 10_000) }],
  },
  {
    // Runtimes created here poll (the watch design has no polls to be late); pairing and registration do not care.
    env: { MERIDIAN_AGENT_DESIGN: 'poll' },
    benchmarks: [
      { name: 'pairing', run: pairings },
      { name: 'registration', run: registrations },
      {
        name: 'runtimes',
        run: async (target) => [...(process.env.BENCH_SKIP_LOCAL === '1' ? [] : [await localProvisioning(target)]), await simulatedScale(target, counts)],
      },
      // (or in a session of its own, when it needs settings of its own).
    ],
  },
];

// `scale`, `storm` and `rotation` start stacks of their own (dev server): see bench/scale.ts, bench/storm.ts, bench/ca-rotation.ts.
const names = ['certificates', 'scale', 'storm', 'rotation', ...new Set(SESSIONS.flatMap((session) => session.benchmarks.map((benchmark) => benchmark.name)))];
if (only && !names.includes(only)) {
  console.error(`unknown benchmark '${only}': one of ${names.join(', ')}`);
  process.exit(2);
}
const selected = (name: string) => !only || only === name;

const load = os.loadavg().map((value) => value.toFixed(2)).join(' ');
console.log(`Meridian benchmarks on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load ${load}\n`);

if (selected('certificates')) {
  const { title, figures } = certificateIssuance();
  printTable(title, [{ header: 'this process', figures }]);
}

if (only === 'scale') {
  if (cluster) console.log('scale runs on the dev-server stack only (a stack per agent design)\n');
  await scale();
  process.exit(process.exitCode ?? 0);
}

if (only === 'rotation') {
  if (cluster) console.log('rotation runs on the dev-server stack only (with a runtime host of its own)\n');
  await caRotationUnderLoad();
  process.exit(process.exitCode ?? 0);
}

if (only === 'storm') {
  if (cluster) console.log('storm runs on the dev-server stack only (with an API process of its own)\n');
  await storm();
  process.exit(process.exitCode ?? 0);
}

/** What each benchmark gave on each server: its results, or why it could not run. */
const outcomes = new Map<Benchmark, Map<Server, Result[] | Error>>();

/** Its tables once it ran on every server, with a line for each server where it failed. */
function report(benchmark: Benchmark): void {
  const outcome = outcomes.get(benchmark)!;
  printResults(
    servers.map((server) => {
      const found = outcome.get(server);
      return { header: SERVERS[server], results: Array.isArray(found) ? found : undefined };
    }),
  );
  for (const server of servers) {
    const found = outcome.get(server);
    if (found instanceof Error) {
      console.log(`${benchmark.name} on the ${SERVERS[server]} failed: ${found.message}\n`);
      process.exitCode = 1;
    }
  }
}

for (const server of servers) {
  for (const session of SESSIONS) {
    const benchmarks = session.benchmarks.filter((benchmark) => selected(benchmark.name));
    if (benchmarks.length === 0) continue;
    const record = (benchmark: Benchmark, outcome: Result[] | Error) => {
      outcomes.set(benchmark, (outcomes.get(benchmark) ?? new Map<Server, Result[] | Error>()).set(server, outcome));
      if (server === servers[servers.length - 1]) report(benchmark);
    };
    const pending = new Set(benchmarks);
    await withServer(server, session.env, async (target) => {
      for (const benchmark of benchmarks) {
        const outcome = await benchmark.run(target).then(
          (result) => [result].flat(),
          (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
        );
        pending.delete(benchmark);
        record(benchmark, outcome);
      }
    }).catch((error: Error) => {
      // The server did not start, or did not stop: what had not run yet could not.
      if (pending.size === 0) console.error(`the ${SERVERS[server]} did not stop cleanly: ${error.message}`);
      for (const benchmark of pending) record(benchmark, error);
      process.exitCode = 1;
    });
  }
}
