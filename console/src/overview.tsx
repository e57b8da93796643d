// The tenant at a glance: conditions, runtime freshness, what is owed or failing, what is running.
import { call, type Overview as Counts } from './api.js';
import { duration, useLive } from './live.js';
import { Bars, Operations, Refusal, Stat } from './parts.js';

const sorted = (counts: Record<string, number>): Array<[string, number]> => Object.entries(counts).sort((a, b) => b[1] - a[1]);
const total = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);

export function Overview() {
  const { data, error } = useLive(() => call<Counts>('GET', '/v1/overview'));
  return (
    <section>
      <h1>Overview</h1>
      <Refusal message={error} />
      {data && (
        <>
          <div class="stats">
            <Stat label="credential slots PENDING" value={data.credentialSlots.PENDING ?? 0} href="#/applications" />
            <Stat label="deliveries FAILED (24 h)" value={data.failedDeliveries24h} href="#/applications" bad />
            <Stat label="operations in progress" value={data.operations.inProgress} href="#/operations" />
            <Stat label="operations FAILED (24 h)" value={data.operations.failed24h} href="#/operations/FAILED" bad />
            <Stat label="runtimes UNREACHABLE" value={data.runtimes.UNREACHABLE ?? 0} href="#/runtimes" bad />
            <Stat label={`stale runtimes (silent > ${duration(data.staleAfterSeconds * 1000)})`} value={data.freshness.stale} href="#/runtimes" bad />
          </div>
          <div class="cards">
            <Bars title={`Applications (${total(data.applications)})`} counts={sorted(data.applications)} />
            <Bars title={`Runtimes (${total(data.runtimes)})`} counts={sorted(data.runtimes)} />
            <Bars
              title="Connected runtimes by last call"
              counts={[
                ['fresh', data.freshness.fresh],
                ['stale', data.freshness.stale],
                ['never', data.freshness.never],
              ]}
            />
          </div>
          <h2>Operations in progress</h2>
          <Operations query="state=IN_PROGRESS&limit=10" withResource />
        </>
      )}
    </section>
  );
}
