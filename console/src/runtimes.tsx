// Runtimes: the list, one runtime with what its agent reports, its operations and their stages, and
// the actions on it (create with a provider, labels, scenarios, delete).
import { useState } from 'preact/hooks';
import { all, call, type AgentStatus, type Operation, type Runtime } from './api.js';
import { useLive } from './live.js';
import { Certificates, Condition, DeleteButton, LabelEditor, Operations, PAGE_SIZE, Pager, Part, Refusal, ScenarioEditor, StageTimeline, TemporalLink, When } from './parts.js';

export function Runtimes() {
  const { data, error } = useLive(() => all<Runtime>('/v1/runtimes'));
  const [page, setPage] = useState(0);
  const [name, setName] = useState('');
  const [provider, setProvider] = useState('simulated');
  const [message, setMessage] = useState('');
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const created = await call<{ runtime: Runtime; operation: Operation }>('POST', '/v1/runtimes', { name, provider });
      location.hash = `#/runtimes/${created.runtime.id}/${created.operation.id}`;
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  return (
    <section>
      <h1>Runtimes</h1>
      <form class="inline" onSubmit={(e) => void create(e)}>
        <label for="new-runtime">New runtime</label>
        <input id="new-runtime" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} placeholder="name" />
        <label for="provider" class="sr-only">Provider</label>
        <select id="provider" value={provider} onChange={(e) => setProvider((e.target as HTMLSelectElement).value)}>
          <option value="simulated">simulated (runtime host)</option>
          <option value="local">local (a process on this machine)</option>
        </select>
        <button type="submit">Create</button>
      </form>
      <Refusal message={message} />
      <Refusal message={error} />
      <table>
        <thead>
          <tr><th scope="col">Name</th><th scope="col">Condition</th><th scope="col">Last call</th><th scope="col">Provider</th><th scope="col">Scenarios</th></tr>
        </thead>
        <tbody>
          {(data ?? []).slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map((r) => (
            <tr key={r.id}>
              <td><a href={`#/runtimes/${r.id}`}>{r.name}</a></td>
              <td><Condition value={r.status.condition} /></td>
              <td><When iso={r.lastSeenAt} /></td>
              <td>{r.provider}</td>
              <td>{r.scenarios.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager page={page} count={data?.length ?? 0} onPage={setPage} />
    </section>
  );
}

/** An operation's state and stages, read live: provisioning's stages as they pass. */
function OperationProgress({ id }: { id: string }) {
  const { data } = useLive(() => call<Operation>('GET', `/v1/operations/${id}`), [id]);
  if (!data) return null;
  return (
    <div class="operation">
      <p role="status">
        {data.type} <span class={`condition c-${data.state}`}>{data.state}</span> at stage <strong>{data.stage}</strong>
        {data.message ? ` — ${data.message}` : ''}
      </p>
      <StageTimeline operation={data} />
      <p class="hint">Workflow: <TemporalLink url={data.temporalUiUrl} id={data.workflowId} /></p>
    </div>
  );
}

/** What the agent reports of itself: the version it applied against the runtime's, its last fetch, its certificate. */
function Agent({ runtime }: { runtime: Runtime }) {
  const { data } = useLive(() => call<AgentStatus>('GET', `/v1/runtimes/${runtime.id}/agent`), [runtime.id]);
  if (!data) return null;
  const behind = data.appliedVersion !== undefined && data.appliedVersion < runtime.configVersion;
  return (
    <dl>
      <dt>Agent</dt>
      <dd><Condition value={data.state} /> {data.design && `(${data.design})`} <TemporalLink url={data.temporalUiUrl} id={data.workflowId} /></dd>
      <dt>Applied configuration</dt>
      <dd>
        {data.appliedVersion ?? '—'} of {runtime.configVersion} {behind ? <strong class="warn">(behind: not yet fetched)</strong> : data.appliedVersion !== undefined && '(current)'}
      </dd>
      <dt>Last fetch</dt><dd><When iso={data.lastFetchAt} /></dd>
      <dt>Certificate expires</dt><dd><When iso={data.certificateNotAfter} /></dd>
      {!!data.consecutiveErrors && (<><dt>Failed polls in a row</dt><dd class="error">{data.consecutiveErrors}</dd></>)}
    </dl>
  );
}

export function RuntimeDetail({ id, operationId }: { id: string; operationId?: string }) {
  const [version, setVersion] = useState(0);
  const saved = () => setVersion((v) => v + 1);
  const { data, error } = useLive(() => call<Runtime>('GET', `/v1/runtimes/${id}`), [id, version]);
  return (
    <section>
      <Refusal message={error} />
      {data && (
        <>
          <h1>{data.name}</h1>
          {operationId && <OperationProgress id={operationId} />}
          <dl>
            <dt>Condition</dt><dd><Condition value={data.status.condition} /> {data.status.message ?? ''}</dd>
            <dt>Provider</dt><dd>{data.provider}</dd>
            <dt>Event URL</dt><dd>{data.eventUrl ?? '—'}</dd>
            <dt>Configuration version</dt><dd>{data.configVersion}</dd>
            <dt>Last call</dt><dd><When iso={data.lastSeenAt} /></dd>
            <dt>Scenarios</dt><dd>{data.scenarios.map((s) => (data.assignedScenarios.includes(s) ? `${s} (by assignment)` : s)).join(', ')}</dd>
            <dt>Id</dt><dd><code>{data.id}</code></dd>
          </dl>
          <Part id="agent" title="Agent"><Agent runtime={data} /></Part>
          <LabelEditor path={`/v1/runtimes/${id}`} labels={data.labels} onSaved={saved} />
          <ScenarioEditor path={`/v1/runtimes/${id}`} current={data.scenariosByHand} assigned={data.assignedScenarios} onSaved={saved} />
          <Part id="operations" title="Operations"><Operations query={`resourceId=${id}&limit=10`} timeline /></Part>
          <Part id="certificates" title="Certificates"><Certificates path={`/v1/runtimes/${id}`} /></Part>
          <DeleteButton
            what={`runtime ${data.name}`}
            path={`/v1/runtimes/${id}`}
            warning="Its certificates are revoked, its agent stopped and the provider deprovisions it."
            after={(operation) => `#/runtimes/${id}/${(operation as Operation).id}`}
          />
        </>
      )}
    </section>
  );
}
