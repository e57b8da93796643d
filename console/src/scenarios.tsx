// Scenarios as a matrix: which applications and runtimes share each one, which runtimes an automatic
// assignment brought in; and the assignments themselves, set and removed.
import { useState } from 'preact/hooks';
import { all, call, type Application, type Assignment, type Runtime } from './api.js';
import { useLive } from './live.js';
import { Refusal, When, jsonOrText } from './parts.js';

type Member = { id: string; name: string; scenarios: string[]; assignedScenarios?: string[]; scenariosByHand?: string[] };

/** An assignment's selector as it reads: `env = "prod"` (the value as JSON). */
const selectorText = ({ selector }: Assignment) => `${selector.key} = ${JSON.stringify(selector.value)}`;

/** A member's mark in a scenario: by hand (perhaps also by assignment), only by assignment ("auto"), or none. */
function Mark({ member, scenario }: { member: Member; scenario: string }) {
  if (!member.scenarios.includes(scenario)) return <td />;
  if (member.assignedScenarios?.includes(scenario) && !member.scenariosByHand?.includes(scenario)) return <td class="member auto">✓ auto<span class="sr-only"> in {scenario} by assignment</span></td>;
  return <td class="member">✓<span class="sr-only"> in {scenario}</span></td>;
}

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
          {scenarios.map((s) => <Mark key={s} member={m} scenario={s} />)}
        </tr>
      ))}
    </>
  );
}

/** The scenarios' automatic assignments, each removable, and a form to give a scenario one. */
function Assignments({ scenarios, assignments, onChanged }: { scenarios: string[]; assignments: Assignment[]; onChanged: () => void }) {
  const [scenario, setScenario] = useState('');
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [message, setMessage] = useState('');
  const change = async (method: 'POST' | 'DELETE', name: string, done: string, id?: string) => {
    try {
      const path = `/v1/scenarios/${encodeURIComponent(name)}/assignments${id ? `/${id}` : ''}`;
      await call(method, path, method === 'POST' ? { selector: { key, value: jsonOrText(value) } } : undefined);
      onChanged();
      setMessage(`${done} Its pass over the runtimes is an operation (SCENARIO_ASSIGNMENT).`);
      if (method === 'POST') {
        setKey('');
        setValue('');
      }
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  const remove = (a: Assignment) => {
    if (confirm(`Remove the assignment of ${a.scenario} (${selectorText(a)})? Runtimes in it only by assignment leave it.`)) void change('DELETE', a.scenario, `Assignment of ${a.scenario} removed.`, a.id);
  };
  const chosen = scenario || scenarios[0] || '';
  return (
    <section aria-labelledby="assignments-title">
      <h2 id="assignments-title">Automatic assignments</h2>
      <p class="hint">Runtimes whose label matches join the scenario, now and whenever they are created or relabelled (marked “auto” above).</p>
      {assignments.length === 0 ? (
        <p class="hint">None.</p>
      ) : (
        <table>
          <thead>
            <tr><th scope="col">Scenario</th><th scope="col">Runtimes with label</th><th scope="col">Since</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {assignments.map((a) => (
              <tr key={a.id}>
                <td>{a.scenario}</td>
                <td><code>{selectorText(a)}</code></td>
                <td><When iso={a.createdAt} /></td>
                <td><button type="button" aria-label={`Remove the assignment of ${a.scenario}`} onClick={() => remove(a)}>Remove</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="inline" onSubmit={(e) => (e.preventDefault(), void change('POST', chosen, `Runtimes with ${key} = ${JSON.stringify(jsonOrText(value))} join ${chosen}.`))}>
        <label for="assign-scenario">Assign runtimes to a scenario by label</label>
        <select id="assign-scenario" value={chosen} onChange={(e) => setScenario((e.target as HTMLSelectElement).value)}>
          {scenarios.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <label for="assign-key" class="sr-only">Assignment label key</label>
        <input id="assign-key" required placeholder="label key" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        <label for="assign-value" class="sr-only">Assignment label value (JSON or text)</label>
        <input id="assign-value" required placeholder='value, e.g. "prod" or 3' value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        <button type="submit">Assign</button>
      </form>
      {message && <p role="status">{message}</p>}
    </section>
  );
}

export function Scenarios() {
  const [version, setVersion] = useState(0);
  const { data, error } = useLive(async () => {
    const [listed, applications, runtimes] = await Promise.all([all<{ name: string; assignments: Assignment[] }>('/v1/scenarios'), all<Application>('/v1/applications'), all<Runtime>('/v1/runtimes')]);
    return { scenarios: listed.map((s) => s.name), assignments: listed.flatMap((s) => s.assignments), applications, runtimes };
  }, [version]);
  const count = (name: string) => [...(data?.applications ?? []), ...(data?.runtimes ?? [])].filter((m) => m.scenarios.includes(name)).length;
  const assignmentsOf = (name: string) => data?.assignments.filter((a) => a.scenario === name) ?? [];
  return (
    <section>
      <h1>Scenarios</h1>
      <p class="hint">An application and a runtime that share a scenario see each other: the runtime gets the application's APIs, the application a credential slot per API and runtime.</p>
      <Refusal message={error} />
      {data && (
        <>
          <div class="scroll">
            <table class="matrix">
              <thead>
                <tr>
                  <th scope="col">Application or runtime</th>
                  {data.scenarios.map((s) => (
                    <th key={s} scope="col">
                      {s} <span class="hint">({count(s)})</span>
                      {assignmentsOf(s).map((a) => (
                        <span key={a.id} class="assignment"><span class="sr-only">, runtimes with </span>{selectorText(a)}</span>
                      ))}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                <Rows kind="applications" title="Applications" members={data.applications} scenarios={data.scenarios} />
                <Rows kind="runtimes" title="Runtimes" members={data.runtimes} scenarios={data.scenarios} />
              </tbody>
            </table>
          </div>
          <Assignments scenarios={data.scenarios} assignments={data.assignments} onChanged={() => setVersion((v) => v + 1)} />
        </>
      )}
    </section>
  );
}
