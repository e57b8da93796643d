// Applications: the list (search by name or label, pages), one application with everything it owns,
// and the actions on it (create, pairing, labels, scenarios, delete).
import { useState } from 'preact/hooks';
import { all, call, items, type Application, type CredentialSlot, type Definition, type Delivery, type Webhook } from './api.js';
import { useLive, useNow } from './live.js';
import { Certificates, Condition, DeleteButton, LabelEditor, Operations, PAGE_SIZE, Pager, Part, Refusal, ScenarioEditor, TemporalLink, When } from './parts.js';

const labelText = (labels: Record<string, unknown>) => Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');

export function Applications() {
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(0);
  const [name, setName] = useState('');
  const [message, setMessage] = useState('');
  const [version, setVersion] = useState(0);
  const { data, error } = useLive(() => all<Application>('/v1/applications'), [version]);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      await call('POST', '/v1/applications', { name });
      setName('');
      setMessage('');
      setVersion(version + 1);
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  const shown = (data ?? []).filter((a) => a.name.includes(search) || labelText(a.labels).includes(search));
  return (
    <section>
      <h1>Applications</h1>
      <form class="inline" onSubmit={(e) => void create(e)}>
        <label for="new-application">New application</label>
        <input id="new-application" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} placeholder="name" />
        <button type="submit">Create</button>
      </form>
      <Refusal message={message} />
      <label for="search">Search by name or label (key=value)</label>
      <input id="search" type="search" value={search} onInput={(e) => (setSearch((e.target as HTMLInputElement).value), setPage(0))} />
      <Refusal message={error} />
      <table>
        <thead>
          <tr><th scope="col">Name</th><th scope="col">Condition</th><th scope="col">Scenarios</th><th scope="col">Labels</th></tr>
        </thead>
        <tbody>
          {shown.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map((a) => (
            <tr key={a.id}>
              <td><a href={`#/applications/${a.id}`}>{a.name}</a></td>
              <td><Condition value={a.status.condition} /></td>
              <td>{a.scenarios.join(', ')}</td>
              <td>{labelText(a.labels)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager page={page} count={shown.length} onPage={setPage} />
    </section>
  );
}

interface Pairing {
  token: string;
  expiresAt: string;
  connectorUrl: string;
}

/** Requests pairing and shows the one-time token once: it lives in this view only, never stored. */
function PairingPanel({ id, condition }: { id: string; condition: string }) {
  const [pairing, setPairing] = useState<Pairing>();
  const [message, setMessage] = useState('');
  const now = useNow();
  const left = pairing ? Math.max(0, Math.round((Date.parse(pairing.expiresAt) - now) / 1000)) : 0;
  const request = async () => {
    try {
      setPairing(await call<Pairing>('POST', `/v1/applications/${id}/pairing`));
      setMessage('');
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  const copy = () =>
    navigator.clipboard.writeText(pairing!.token).then(
      () => setMessage('Copied.'),
      () => setMessage('Copying is not allowed here: select the token and copy it.'),
    );
  return (
    <section aria-labelledby="pairing">
      <h2 id="pairing">Pairing</h2>
      <p>
        Pairing state: <Condition value={condition} />
        {condition === 'CONNECTED' && ' — a new pairing issues another certificate; the current one stays valid.'}
      </p>
      <button type="button" onClick={() => void request()}>Request pairing</button>
      {pairing && (
        <div class="token">
          <label for="pairing-token">One-time token (shown once)</label>
          <input id="pairing-token" readOnly value={pairing.token} />
          <button type="button" onClick={() => void copy()}>Copy</button>
          <p>{left > 0 ? `Expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` : 'Expired: request a new one.'} Connector: <code>{pairing.connectorUrl}</code></p>
        </div>
      )}
      {message && <p role="status">{message}</p>}
    </section>
  );
}

function Definitions({ id }: { id: string }) {
  const { data } = useLive(async () => ({ apis: await items<Definition>(`/v1/applications/${id}/apis`), events: await items<Definition>(`/v1/applications/${id}/events`) }), [id]);
  if (!data) return null;
  const rows = [...data.apis.map((d) => ['API', d] as const), ...data.events.map((d) => ['event', d] as const)];
  if (rows.length === 0) return <p class="hint">None registered: the paired application registers them over mTLS.</p>;
  return (
    <table>
      <thead>
        <tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Target</th><th scope="col">Spec</th></tr>
      </thead>
      <tbody>
        {rows.map(([kind, d]) => (
          <tr key={d.id}>
            <td>{d.name}</td>
            <td>{kind}</td>
            <td>{d.targetUrl ?? '—'}</td>
            <td>{d.spec ? <><Condition value={d.spec.status} /> {d.spec.type}/{d.spec.format}{d.spec.message ? ` — ${d.spec.message}` : ''}</> : 'none'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Webhooks({ id }: { id: string }) {
  const { data } = useLive(async () => ({ hooks: await items<Webhook>(`/v1/applications/${id}/webhooks`), deliveries: await items<Delivery>(`/v1/applications/${id}/deliveries?limit=20`) }), [id]);
  if (!data) return null;
  return (
    <>
      {data.hooks.length === 0 ? (
        <p class="hint">No webhooks: the application pulls its configuration.</p>
      ) : (
        <ul>
          {data.hooks.map((h) => (
            <li key={h.id}>
              {h.type} → <code>{h.url}</code> {h.hasSecret ? '(signed)' : '(unsigned)'} {h.disabled && <strong class="error">disabled: {h.disabled.reason}</strong>}
            </li>
          ))}
        </ul>
      )}
      <h3>Recent deliveries</h3>
      {data.deliveries.length === 0 ? (
        <p class="hint">None yet.</p>
      ) : (
        <table>
          <thead>
            <tr><th scope="col">Event</th><th scope="col">State</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Updated</th><th scope="col">Workflow</th></tr>
          </thead>
          <tbody>
            {data.deliveries.map((d) => (
              <tr key={d.id}>
                <td>{d.eventType}</td>
                <td><Condition value={d.state} /></td>
                <td>{d.attempts}</td>
                <td>{d.lastStatus ?? ''} {d.lastError ?? ''}</td>
                <td><When iso={d.updatedAt} /></td>
                <td><TemporalLink url={d.temporalUiUrl} id={null} text="notify" /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function CredentialSlots({ id }: { id: string }) {
  const { data } = useLive(() => all<CredentialSlot>(`/v1/applications/${id}/credentials`, 500), [id]);
  if (!data) return null;
  if (data.length === 0) return <p class="hint">No slots: none of its APIs shares a scenario with a runtime.</p>;
  return (
    <table>
      <thead>
        <tr><th scope="col">API</th><th scope="col">Runtime</th><th scope="col">Status</th><th scope="col">Updated</th></tr>
      </thead>
      <tbody>
        {data.map((s) => (
          <tr key={`${s.apiId}/${s.runtimeId}`}>
            <td>{s.apiName ?? s.apiId}</td>
            <td><a href={`#/runtimes/${s.runtimeId}`}>{s.runtimeName ?? s.runtimeId}</a></td>
            <td><Condition value={s.status} /></td>
            <td><When iso={s.updatedAt} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ApplicationDetail({ id }: { id: string }) {
  const [version, setVersion] = useState(0);
  const saved = () => setVersion((v) => v + 1);
  const { data, error } = useLive(() => call<Application>('GET', `/v1/applications/${id}`), [id, version]);
  return (
    <section>
      <Refusal message={error} />
      {data && (
        <>
          <h1>{data.name}</h1>
          <dl>
            <dt>Condition</dt><dd><Condition value={data.status.condition} /> since <When iso={data.status.updatedAt} /></dd>
            <dt>Description</dt><dd>{data.description || '—'}</dd>
            <dt>Scenarios</dt><dd>{data.scenarios.join(', ')}</dd>
            <dt>Id</dt><dd><code>{data.id}</code></dd>
          </dl>
          <PairingPanel id={id} condition={data.status.condition} />
          <LabelEditor path={`/v1/applications/${id}`} labels={data.labels} onSaved={saved} />
          <ScenarioEditor path={`/v1/applications/${id}`} current={data.scenarios} onSaved={saved} />
          <Part id="definitions" title="APIs and events"><Definitions id={id} /></Part>
          <Part id="slots" title="Credential slots"><CredentialSlots id={id} /></Part>
          <Part id="webhooks" title="Webhooks"><Webhooks id={id} /></Part>
          <Part id="certificates" title="Certificates"><Certificates path={`/v1/applications/${id}`} /></Part>
          <Part id="operations" title="Operations"><Operations query={`resourceId=${id}&limit=10`} /></Part>
          <DeleteButton what={`application ${data.name}`} path={`/v1/applications/${id}`} warning="Its certificates are revoked and its credentials dropped." after={() => '#/applications'} />
        </>
      )}
    </section>
  );
}
