// The Meridian console: a single page over the admin REST API. Routes live in the URL's hash
// (#/applications/<id>), so every view has an address and the server serves one page.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Problem, all, call, session, type Application, type Operation, type Runtime } from './api.js';

/** How often a view reads again while it is shown. */
const REFRESH_MS = 5_000;

const route = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);

/** Reads `load` now and every {@link REFRESH_MS} while mounted; a 401 signs out. */
function useLive<T>(load: () => Promise<T>, deps: unknown[] = []): { data?: T; error?: string } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  useEffect(() => {
    let alive = true;
    const read = () =>
      load().then(
        (data) => alive && setState({ data }),
        (error: unknown) => {
          if (error instanceof Problem && error.status === 401) return signOut('The token was refused: sign in again.');
          if (alive) setState((s) => ({ ...s, error: error instanceof Error ? error.message : String(error) }));
        },
      );
    void read();
    const timer = setInterval(() => void read(), REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, deps);
  return state;
}

let notice = '';
function signOut(message = '') {
  session.signOut();
  notice = message;
  location.hash = '#/';
  renderApp();
}

function SignIn() {
  const [token, setToken] = useState('');
  const [error, setError] = useState(notice);
  const submit = async (event: Event) => {
    event.preventDefault();
    session.signIn(token.trim());
    try {
      await call('GET', '/v1/applications?limit=1');
      notice = '';
      location.hash = '#/overview';
      renderApp();
    } catch (e) {
      session.signOut();
      setError(e instanceof Problem && e.status === 401 ? 'This admin token is not valid.' : (e as Error).message);
    }
  };
  return (
    <main class="sign-in">
      <h1>Meridian console</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label for="token">Admin token</label>
        <input id="token" type="password" autocomplete="off" required value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        <button type="submit">Sign in</button>
        {error && <p role="alert" class="error">{error}</p>}
      </form>
      <p class="hint">The token stays in this browser tab and is sent only to this Meridian.</p>
    </main>
  );
}

function countBy<T>(items: T[], key: (item: T) => string): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/** A horizontal bar per value: a picture of counts by condition. */
function Bars({ title, counts }: { title: string; counts: Array<[string, number]> }) {
  const max = Math.max(1, ...counts.map(([, n]) => n));
  return (
    <figure class="bars">
      <figcaption>{title}</figcaption>
      {counts.length === 0 ? (
        <p>None yet.</p>
      ) : (
        <svg role="img" aria-label={`${title}: ${counts.map(([k, n]) => `${k} ${n}`).join(', ')}`} viewBox={`0 0 300 ${counts.length * 24}`} width="100%">
          {counts.map(([key, n], i) => (
            <g key={key} transform={`translate(0 ${i * 24})`}>
              <text x="0" y="16" class={`label c-${key}`}>{key}</text>
              <rect x="120" y="4" height="16" width={(150 * n) / max} class={`bar c-${key}`} />
              <text x={126 + (150 * n) / max} y="16">{n}</text>
            </g>
          ))}
        </svg>
      )}
    </figure>
  );
}

function Overview() {
  const { data, error } = useLive(async () => ({ applications: await all<Application>('/v1/applications'), runtimes: await all<Runtime>('/v1/runtimes') }));
  return (
    <section>
      <h1>Overview</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {data && (
        <div class="cards">
          <Bars title={`Applications (${data.applications.length})`} counts={countBy(data.applications, (a) => a.status.condition)} />
          <Bars title={`Runtimes (${data.runtimes.length})`} counts={countBy(data.runtimes, (r) => r.status.condition)} />
        </div>
      )}
    </section>
  );
}

const Condition = ({ value }: { value: string }) => <span class={`condition c-${value}`}>{value}</span>;

function Applications() {
  const [search, setSearch] = useState('');
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
  const shown = (data ?? []).filter((a) => a.name.includes(search) || Object.entries(a.labels).some(([k, v]) => `${k}=${String(v)}`.includes(search)));
  return (
    <section>
      <h1>Applications</h1>
      <form class="inline" onSubmit={(e) => void create(e)}>
        <label for="new-application">New application</label>
        <input id="new-application" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} placeholder="name" />
        <button type="submit">Create</button>
      </form>
      {message && <p role="alert" class="error">{message}</p>}
      <label for="search">Search by name or label</label>
      <input id="search" type="search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
      {error && <p role="alert" class="error">{error}</p>}
      <table>
        <thead>
          <tr><th scope="col">Name</th><th scope="col">Condition</th><th scope="col">Scenarios</th><th scope="col">Labels</th></tr>
        </thead>
        <tbody>
          {shown.map((a) => (
            <tr key={a.id}>
              <td><a href={`#/applications/${a.id}`}>{a.name}</a></td>
              <td><Condition value={a.status.condition} /></td>
              <td>{a.scenarios.join(', ')}</td>
              <td>{Object.entries(a.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

interface Pairing {
  token: string;
  expiresAt: string;
  connectorUrl: string;
}

/** Seconds until `iso`, ticking every second while shown. */
function useCountdown(iso: string | undefined): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return iso ? Math.max(0, Math.round((Date.parse(iso) - now) / 1000)) : 0;
}

/** Requests pairing and shows the one-time token once: it lives in this view only, never stored. */
function PairingPanel({ id }: { id: string }) {
  const [pairing, setPairing] = useState<Pairing>();
  const [message, setMessage] = useState('');
  const left = useCountdown(pairing?.expiresAt);
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

/** Checkboxes of the tenant's scenarios; saving PUTs the chosen ones (the API refuses what it must, e.g. none for an application). */
function ScenarioEditor({ path, current }: { path: string; current: string[] }) {
  const { data } = useLive(() => all<{ name: string }>('/v1/scenarios'));
  const [chosen, setChosen] = useState<string[]>();
  const [message, setMessage] = useState('');
  const selected = chosen ?? current;
  const toggle = (name: string) => setChosen(selected.includes(name) ? selected.filter((n) => n !== name) : [...selected, name]);
  const save = async (event: Event) => {
    event.preventDefault();
    try {
      await call('PUT', `${path}/scenarios`, selected);
      setChosen(undefined);
      setMessage('Saved.');
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  return (
    <form onSubmit={(e) => void save(e)} aria-labelledby="scenarios-title">
      <h2 id="scenarios-title">Scenarios</h2>
      <fieldset>
        <legend class="sr-only">Scenarios</legend>
        {(data ?? []).map(({ name }) => (
          <label key={name} class="check">
            <input type="checkbox" checked={selected.includes(name)} onChange={() => toggle(name)} /> {name}
          </label>
        ))}
      </fieldset>
      <button type="submit">Save scenarios</button>
      {message && <p role="status">{message}</p>}
    </form>
  );
}

function ApplicationDetail({ id }: { id: string }) {
  const { data, error } = useLive(() => call<Application>('GET', `/v1/applications/${id}`), [id]);
  const remove = async () => {
    if (!data || !confirm(`Delete application ${data.name}? Its certificates are revoked and its credentials dropped.`)) return;
    await call('DELETE', `/v1/applications/${id}`).then(() => (location.hash = '#/applications'), (e: Error) => alert(e.message));
  };
  return (
    <section>
      {error && <p role="alert" class="error">{error}</p>}
      {data && (
        <>
          <h1>{data.name}</h1>
          <dl>
            <dt>Condition</dt><dd><Condition value={data.status.condition} /></dd>
            <dt>Description</dt><dd>{data.description ?? ''}</dd>
            <dt>Scenarios</dt><dd>{data.scenarios.join(', ')}</dd>
            <dt>Labels</dt><dd>{JSON.stringify(data.labels)}</dd>
            <dt>Id</dt><dd><code>{data.id}</code></dd>
          </dl>
          <ScenarioEditor path={`/v1/applications/${id}`} current={data.scenarios} />
          <PairingPanel id={id} />
          <button type="button" class="danger" onClick={() => void remove()}>Delete…</button>
        </>
      )}
    </section>
  );
}

function Runtimes() {
  const { data, error } = useLive(() => all<Runtime>('/v1/runtimes'));
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
      {message && <p role="alert" class="error">{message}</p>}
      {error && <p role="alert" class="error">{error}</p>}
      <table>
        <thead>
          <tr><th scope="col">Name</th><th scope="col">Condition</th><th scope="col">Provider</th><th scope="col">Scenarios</th></tr>
        </thead>
        <tbody>
          {(data ?? []).map((r) => (
            <tr key={r.id}>
              <td><a href={`#/runtimes/${r.id}`}>{r.name}</a></td>
              <td><Condition value={r.status.condition} /></td>
              <td>{r.provider}</td>
              <td>{r.scenarios.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** An operation's state and stage, read live: provisioning's stages as they pass. */
function OperationProgress({ id }: { id: string }) {
  const { data } = useLive(() => call<Operation>('GET', `/v1/operations/${id}`), [id]);
  if (!data) return null;
  return (
    <p class="operation" role="status">
      {data.type} <span class={`condition c-${data.state}`}>{data.state}</span> at stage <strong>{data.stage}</strong>
      {data.message ? ` — ${data.message}` : ''} <span class="hint">(workflow {data.workflowId})</span>
    </p>
  );
}

function RuntimeDetail({ id, operationId }: { id: string; operationId?: string }) {
  const { data, error } = useLive(() => call<Runtime>('GET', `/v1/runtimes/${id}`), [id]);
  return (
    <section>
      {error && <p role="alert" class="error">{error}</p>}
      {data && (
        <>
          <h1>{data.name}</h1>
          {operationId && <OperationProgress id={operationId} />}
          <dl>
            <dt>Condition</dt><dd><Condition value={data.status.condition} /> {data.status.message ?? ''}</dd>
            <dt>Provider</dt><dd>{data.provider}</dd>
            <dt>Event URL</dt><dd>{data.eventUrl ?? '—'}</dd>
            <dt>Configuration version</dt><dd>{data.configVersion ?? '—'}</dd>
            <dt>Scenarios</dt><dd>{data.scenarios.join(', ')}</dd>
            <dt>Id</dt><dd><code>{data.id}</code></dd>
          </dl>
          <ScenarioEditor path={`/v1/runtimes/${id}`} current={data.scenarios} />
        </>
      )}
    </section>
  );
}

/** Which applications and runtimes share each scenario. */
function Scenarios() {
  const { data, error } = useLive(async () => ({
    scenarios: await all<{ name: string }>('/v1/scenarios'),
    applications: await all<Application>('/v1/applications'),
    runtimes: await all<Runtime>('/v1/runtimes'),
  }));
  const members = <T extends { id: string; name: string; scenarios: string[] }>(items: T[], scenario: string, kind: string) =>
    items
      .filter((item) => item.scenarios.includes(scenario))
      .map((item, i) => (
        <span key={item.id}>
          {i > 0 && ', '}
          <a href={`#/${kind}/${item.id}`}>{item.name}</a>
        </span>
      ));
  return (
    <section>
      <h1>Scenarios</h1>
      {error && <p role="alert" class="error">{error}</p>}
      <table>
        <thead>
          <tr><th scope="col">Scenario</th><th scope="col">Applications</th><th scope="col">Runtimes</th></tr>
        </thead>
        <tbody>
          {(data?.scenarios ?? []).map(({ name }) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>{members(data!.applications, name, 'applications')}</td>
              <td>{members(data!.runtimes, name, 'runtimes')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Shell() {
  const [path, setPath] = useState(route());
  useEffect(() => {
    const changed = () => setPath(route());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  const [page, id, sub] = path;
  const view =
    page === 'applications' && id ? <ApplicationDetail id={id} />
    : page === 'applications' ? <Applications />
    : page === 'runtimes' && id ? <RuntimeDetail id={id} operationId={sub} />
    : page === 'runtimes' ? <Runtimes />
    : page === 'scenarios' ? <Scenarios />
    : <Overview />;
  const link = (to: string, text: string) => (
    <a href={`#/${to}`} aria-current={(page ?? 'overview') === to ? 'page' : undefined}>{text}</a>
  );
  return (
    <>
      <header>
        <nav aria-label="Main">
          <span class="brand">Meridian</span>
          {link('overview', 'Overview')}
          {link('applications', 'Applications')}
          {link('runtimes', 'Runtimes')}
          {link('scenarios', 'Scenarios')}
          <button type="button" onClick={() => signOut()}>Sign out</button>
        </nav>
      </header>
      <main>{view}</main>
    </>
  );
}

function renderApp() {
  const root = document.getElementById('app')!;
  render(session.token() ? <Shell /> : <SignIn />, root);
}

renderApp();
