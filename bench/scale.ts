// `npm run bench -- scale`: simulated runtimes on one runtime host, per agent design (watch, poll), at
// growing counts. Prints one table per design: provisioning rate, poll lag, memory per runtime, the
// Temporal server's memory and CPU, Temporal's cost per runtime per hour, the time for one change to
// reach every runtime, and 304s/s against /healthz/s over mTLS.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { OperationUnreadable, untilFinished } from '../client/admin.js';
import { MtlsClient, loadCredentials } from '../client/connector.js';
import { LocalStack, stackEnv } from '../dev/local-stack.js';
import { readPidFile } from '../dev/leftovers.js';
import { startRuntimeHost } from '../runtime/host.js';
import { runtimeFiles } from '../runtime/files.js';
import { workflowId } from '../workflows/ids.js';
import { credentialPropagation } from './credentials.js';
import { api } from './runtimes.js';
import { percentile } from './stats.js';

type Design = 'watch' | 'poll';
const POLL_SECONDS = 30;
/** Provisionings in flight at once. */
const IN_FLIGHT = Number(process.env.BENCH_SCALE_IN_FLIGHT ?? 40);
/** Credential changes timed at the largest count. */
const CREDENTIAL_RUNS = 20;
/** Agents whose histories are read for Temporal's cost (all of them below this count). */
const SAMPLE = 50;

interface Row {
  runtimes: number;
  provisionedPerSecond: number;
  lag: { p50: number; p95: number; p99: number; max: number; n: number };
  hostKbPerRuntime: number;
  /** Of which the host's JavaScript heap (the rest: TLS connections, OpenSSL, buffers). */
  hostHeapKbPerRuntime: number;
  /** CPU seconds each process spent per runtime provisioned: where the provisioning rate goes. */
  provisioningCpu: { temporal: number; plane: number; host: number };
  planeMb: number;
  temporalMb: number;
  temporalCpu: number;
  tasksPerRuntimeHour: number;
  eventsPerRuntimeHour: number;
  fanOutMs: number;
  fanOutApplied: string;
}

/** Resident memory of a process, in bytes (Linux). */
function rss(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return line ? Number(line[1]) * 1024 : NaN;
}

/** CPU seconds a process used so far (Linux). */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
/** This process's resident memory and JavaScript heap after a full garbage collection. */
function settledMemory(): { rss: number; heap: number } {
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
}

/** Sequential calls of `call` for `ms`: calls per second. */
async function rate(ms: number, call: () => Promise<unknown>): Promise<number> {
  const until = performance.now() + ms;
  let n = 0;
  while (performance.now() < until) {
    await call();
    n++;
  }
  return n / (ms / 1000);
}

/** Workflow tasks and history events of the sampled agents since `since`, per runtime per hour. */
async function temporalCost(client: Client, runtimeIds: string[], since: number, until: number): Promise<{ tasks: number; events: number }> {
  let tasks = 0;
  let events = 0;
  for (const id of runtimeIds) {
    for (const event of (await client.workflow.getHandle(workflowId.agent(id)).fetchHistory()).events ?? []) {
      const at = Number(event.eventTime?.seconds ?? 0) * 1000;
      if (at < since || at > until) continue;
      events++;
      if (event.eventType === proto.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) tasks++;
    }
  }
  const hours = (until - since) / 3_600_000;
  return { tasks: tasks / runtimeIds.length / hours, events: events / runtimeIds.length / hours };
}

/** The operation once it finished; a 503 (the plane overloaded for a moment) is counted and asked again. */
let unavailable = 0;
async function finished(url: string, token: string, operationId: string): Promise<{ state: string; message?: string }> {
  for (;;) {
    try {
      return await untilFinished(url, token, operationId, { timeoutMs: 1_800_000, intervalMs: 2_000 });
    } catch (error) {
      if (!(error instanceof OperationUnreadable && error.status === 503)) throw error;
      unavailable++;
      await sleep(2_000);
    }
  }
}

/**
 * Creates simulated runtimes (`<prefix>-<i>` for i from `runtimeIds.length` up to `count`, in DEFAULT,
 * polling every {@link POLL_SECONDS}) {@link IN_FLIGHT} at a time, each awaited to SUCCEEDED; adds their
 * ids to `runtimeIds`.
 */
export async function provisionSimulated(url: string, token: string, runtimeIds: string[], count: number, prefix = 'scale'): Promise<void> {
  let next = runtimeIds.length;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        const i = next++;
        const created = await api(url, token, 'POST', '/v1/runtimes', { name: `${prefix}-${i}`, provider: 'simulated', scenarios: ['DEFAULT'], pollIntervalSeconds: POLL_SECONDS });
        const op = await finished(url, token, created.operation.id);
        if (op.state !== 'SUCCEEDED') throw new Error(`provisioning failed: ${op.message}`);
        runtimeIds.push(created.runtime.id);
      }
    }),
  );
}

/** One design at growing counts, on a stack of its own in `dir`. */
export async function scaleOfDesign(design: Design, counts: number[], observeMs: number): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `meridian-scale-${design}-`));
  fs.chmodSync(dir, 0o755);
  const dataDir = path.join(dir, 'data');
  const stack = new LocalStack({ ...(await stackEnv(dataDir)), MERIDIAN_RUNTIME_HOST: 'false', MERIDIAN_AGENT_DESIGN: design });
  await stack.start();
  const fetches = new Map<string, number[]>();
  const applied = new Map<string, number>();
  const connection = await NativeConnection.connect({ address: stack.env.TEMPORAL_ADDRESS! });
  const host = await startRuntimeHost({
    connection,
    namespace: 'default',
    root: path.join(dataDir, 'simulated'),
    agentDesign: design,
    observer: {
      fetched: (id) => (fetches.get(id) ?? fetches.set(id, []).get(id)!).push(Date.now()),
      applied: (id, version) => applied.set(id, Math.max(version, applied.get(id) ?? 0)),
    },
  });
  // Watches running now: an agent between two watches is on its way back through Temporal (its workflow
  // task, then the next watch). The host's activities are looked up per call, so this wraps each watch.
  let watching = 0;
  const watch = host.activities.watchConfiguration;
  host.activities.watchConfiguration = async (input) => {
    watching++;
    try {
      return await watch(input);
    } finally {
      watching--;
    }
  };
  // Memory per runtime is the growth from here: the host's worker, bundle and gateway are up already.
  let previous = { runtimes: 0, ...settledMemory() };
  const temporalPid = readPidFile(path.join(dataDir, 'temporal.pid'))!;
  /** CPU seconds so far of the Temporal server, the management plane and this process (the runtime host). */
  const cpuNow = () => ({ temporal: cpuSeconds(temporalPid), plane: cpuSeconds(stack.child!.pid!), host: cpuSeconds(process.pid) });
  const client = new Client({ connection: await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS! }) });
  const token = stack.adminToken!;
  const runtimeIds: string[] = [];
  const rows: Row[] = [];
  try {
    for (const count of counts) {
      // Provisioning, IN_FLIGHT at a time.
      const started = performance.now();
      const before = runtimeIds.length;
      const cpuAtStart = cpuNow();
      await provisionSimulated(stack.url, token, runtimeIds, count);
      const provisionedPerSecond = (count - before) / ((performance.now() - started) / 1000);
      const cpuAtEnd = cpuNow();
      const perRuntime = (name: keyof typeof cpuAtEnd) => (cpuAtEnd[name] - cpuAtStart[name]) / (count - before);
      const provisioningCpu = { temporal: perRuntime('temporal'), plane: perRuntime('plane'), host: perRuntime('host') };

      // Steady state: nothing changes for observeMs.
      await sleep(5_000);
      fetches.clear();
      const since = Date.now();
      const cpuBefore = cpuSeconds(temporalPid);
      await sleep(observeMs);
      const until = Date.now();
      const temporalCpu = (cpuSeconds(temporalPid) - cpuBefore) / ((until - since) / 1000);
      const gaps = [...fetches.values()].flatMap((times) => times.slice(1).map((t, i) => Math.max(0, t - times[i]! - POLL_SECONDS * 1000)));
      const sorted = gaps.sort((a, b) => a - b);
      const sample = runtimeIds.slice(-SAMPLE);
      const cost = await temporalCost(client, sample, since, until);
      const now = { runtimes: runtimeIds.length, ...settledMemory() };
      const hostKbPerRuntime = (now.rss - previous.rss) / 1024 / (now.runtimes - previous.runtimes);
      const hostHeapKbPerRuntime = (now.heap - previous.heap) / 1024 / (now.runtimes - previous.runtimes);
      previous = now;

      // One change every runtime sees: a new application in the DEFAULT scenario they all share.
      const target = new Map(runtimeIds.map((id) => [id, 0]));
      const changed = performance.now();
      const app = await api(stack.url, token, 'POST', '/v1/applications', { name: `fan-out-${count}` });
      const version = async (id: string) => (JSON.parse(fs.readFileSync(runtimeFiles(path.join(dataDir, 'simulated'), id).applied, 'utf8')) as { configVersion: number }).configVersion;
      for (const id of runtimeIds) target.set(id, (await version(id).catch(() => 0)) + 1);
      let fanOutMs = NaN;
      const deadline = performance.now() + 120_000;
      while (performance.now() < deadline) {
        const done = [...target].filter(([id, v]) => (applied.get(id) ?? 0) >= v).length;
        if (done === target.size) {
          fanOutMs = performance.now() - changed;
          break;
        }
        await sleep(50);
      }
      const reached = [...target].filter(([id, v]) => (applied.get(id) ?? 0) >= v).length;
      await api(stack.url, token, 'DELETE', `/v1/applications/${app.id}`);

      rows.push({
        runtimes: count,
        provisionedPerSecond,
        lag: { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN, n: sorted.length },
        hostKbPerRuntime,
        hostHeapKbPerRuntime,
        provisioningCpu,
        planeMb: rss(stack.child!.pid!) / 2 ** 20,
        temporalMb: rss(temporalPid) / 2 ** 20,
        temporalCpu,
        tasksPerRuntimeHour: cost.tasks,
        eventsPerRuntimeHour: cost.events,
        fanOutMs,
        fanOutApplied: `${reached}/${target.size}`,
      });
      printRow(design, rows.at(-1)!);
      if (unavailable) console.log(`    (${unavailable} operation reads answered 503 while provisioning; retried)`);
      unavailable = 0;
    }
    // Credentials set by an application in the scenario every runtime shares, with all of them connected:
    // right after the setup's own changes (an application, then its API, reach every runtime: each agent's
    // watch returns and its workflow starts the next watch, so every runtime's round trip through Temporal
    // is still under way), then once every runtime is watching again.
    for (const settle of design === 'watch' ? [false, true] : [false]) {
      let drainedMs = 0;
      const settled = async () => {
        const started = performance.now();
        while (watching < runtimeIds.length && performance.now() - started < 600_000) await sleep(100);
        drainedMs = performance.now() - started;
      };
      const credentials = await credentialPropagation(
        { url: stack.url, adminToken: token },
        `${runtimeIds.length} simulated runtimes connected, ${settle ? 'every one watching again' : 'their agents still returning from the setup\'s changes'}`,
        POLL_SECONDS,
        CREDENTIAL_RUNS,
        0,
        settle ? settled : undefined,
      );
      console.log(`  ${design}: ${credentials.title}: ${credentials.figures.map((f) => `${f.label} ${f.value.toFixed(0)} ${f.unit}`).join(', ')}`);
      if (settle) console.log(`  ${design}: after the setup's two changes, every runtime was watching again in ${(drainedMs / 1000).toFixed(1)} s (${watching}/${runtimeIds.length})`);
    }

    // 304s against /healthz over mTLS, from one runtime's client, one request at a time.
    const mtls = new MtlsClient(loadCredentials(runtimeFiles(path.join(dataDir, 'simulated'), runtimeIds[0]!).credentials));
    const etag = String((await mtls.request('GET', '/v1/runtime/configuration')).headers.etag);
    const notModified = await rate(3_000, () => mtls.request('GET', '/v1/runtime/configuration', undefined, { 'if-none-match': etag }));
    const healthz = await rate(3_000, () => mtls.request('GET', '/healthz'));
    mtls.close();
    console.log(`  ${design}: 304s/s ${notModified.toFixed(0)}, /healthz/s ${healthz.toFixed(0)} over mTLS (ratio ${(notModified / healthz).toFixed(2)})`);
  } finally {
    const unhandled = stack.output.split('\n').filter((line) => line.includes('"unhandled error"'));
    if (unhandled.length) console.log(`  ${design}: ${unhandled.length} unhandled error(s) in the plane's log; the first:\n${unhandled.slice(0, 3).join('\n')}`);
    await host.stop();
    await connection.close();
    await client.connection.close();
    await stack.interrupt();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

const HEADER = 'runtimes  prov/s  CPU s/rt T/P/H    lag p50/p95/p99/max (ms)        host KB/rt (heap)  plane MB  temporal MB  temporal CPU  wf tasks/rt/h  events/rt/h  fan-out';
function printRow(design: Design, r: Row): void {
  const lag = [r.lag.p50, r.lag.p95, r.lag.p99, r.lag.max].map((v) => (Number.isNaN(v) ? '-' : v.toFixed(0))).join('/');
  console.log(
    `  [${design}] ${String(r.runtimes).padStart(6)}  ${r.provisionedPerSecond.toFixed(1).padStart(6)}  ${[r.provisioningCpu.temporal, r.provisioningCpu.plane, r.provisioningCpu.host].map((v) => v.toFixed(2)).join('/').padEnd(16)}  ${`${lag} (n=${r.lag.n})`.padEnd(30)}  ${`${r.hostKbPerRuntime.toFixed(0)} (${r.hostHeapKbPerRuntime.toFixed(0)})`.padStart(17)}  ${r.planeMb.toFixed(0).padStart(8)}  ${r.temporalMb.toFixed(0).padStart(11)}  ${(r.temporalCpu * 100).toFixed(0).padStart(11)}%  ${r.tasksPerRuntimeHour.toFixed(1).padStart(13)}  ${r.eventsPerRuntimeHour.toFixed(1).padStart(11)}  ${Number.isNaN(r.fanOutMs) ? `>120 s (${r.fanOutApplied})` : `${(r.fanOutMs / 1000).toFixed(1)} s (${r.fanOutApplied})`}`,
  );
}

/** Both designs (BENCH_SCALE_DESIGNS), at BENCH_SCALE_COUNTS, each count observed for BENCH_SCALE_OBSERVE_SECONDS. */
export async function scale(): Promise<void> {
  const designs = (process.env.BENCH_SCALE_DESIGNS ?? 'watch,poll').split(',') as Design[];
  const counts = (process.env.BENCH_SCALE_COUNTS ?? '200,500').split(',').map(Number);
  const observeMs = Number(process.env.BENCH_SCALE_OBSERVE_SECONDS ?? 300) * 1000;
  console.log(`scale: simulated runtimes on one runtime host (this process), ${POLL_SECONDS} s poll interval, ${observeMs / 1000} s of steady state per count`);
  console.log('  CPU s/rt T/P/H = CPU seconds per runtime provisioned, spent by the Temporal server / the management plane (API and worker; PostgreSQL not counted) / this process (the runtime host — RSA-2048 keys, CSRs, TLS — and the benchmark\'s own requests), including the steady load of the runtimes already there');
  console.log(`  lag = how much later than ${POLL_SECONDS} s after the previous answer each configuration answer came; host KB/rt = this process's RSS growth per runtime added (after a full GC), of which its JavaScript heap in brackets`);
  for (const design of designs) {
    console.log(`\n  design: ${design}\n  ${HEADER}`);
    await scaleOfDesign(design, counts, observeMs);
  }
  console.log('');
}
