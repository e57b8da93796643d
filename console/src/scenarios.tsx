// Scenarios as a matrix: which applications and runtimes share each one.
import { all, type Application, type Runtime } from './api.js';
import { useLive } from './live.js';
import { Refusal } from './parts.js';

type Member = { id: string; name: string; scenarios: string[] };

/** One group of rows (applications or runtimes): a mark in each scenario it belongs to. */
function Rows({ kind, title, members, scenarios }: { kind: string; title: string; members: Member[]; scenarios: string[] }) {
  return (
    <>
      <tr class="group">
        <th scope="rowgroup" colSpan={scenarios.length + 1}>{title} ({members.length})</th>
      </tr>
      {members.map((m) => (
        <tr key={m.id}>
          <th scope="row"><a href={`#/${kind}/${m.id}`}>{m.name}</a></th>
          {scenarios.map((s) => (m.scenarios.includes(s) ? <td key={s} class="member">✓<span class="sr-only"> in {s}</span></td> : <td key={s} />))}
        </tr>
      ))}
    </>
  );
}

export function Scenarios() {
  const { data, error } = useLive(async () => ({
    scenarios: (await all<{ name: string }>('/v1/scenarios')).map((s) => s.name),
    applications: await all<Application>('/v1/applications'),
    runtimes: await all<Runtime>('/v1/runtimes'),
  }));
  const count = (name: string) => [...(data?.applications ?? []), ...(data?.runtimes ?? [])].filter((m) => m.scenarios.includes(name)).length;
  return (
    <section>
      <h1>Scenarios</h1>
      <p class="hint">An application and a runtime that share a scenario see each other: the runtime gets the application's APIs, the application a credential slot per API and runtime.</p>
      <Refusal message={error} />
      {data && (
        <div class="scroll">
          <table class="matrix">
            <thead>
              <tr>
                <th scope="col">Application or runtime</th>
                {data.scenarios.map((s) => (
                  <th key={s} scope="col">{s} <span class="hint">({count(s)})</span></th>
                ))}
              </tr>
            </thead>
            <tbody>
              <Rows kind="applications" title="Applications" members={data.applications} scenarios={data.scenarios} />
              <Rows kind="runtimes" title="Runtimes" members={data.runtimes} scenarios={data.scenarios} />
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
