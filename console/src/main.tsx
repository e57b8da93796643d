// The Meridian console: a single page over the admin REST API. Routes live in the URL's hash
// (#/applications/<id>), so every view has an address and the server serves one page.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Problem, call, session } from './api.js';
import { ApplicationDetail, Applications } from './applications.js';
import { Audit } from './audit.js';
import { LabelDefinitions } from './labels.js';
import { onRefused } from './live.js';
import { Operations } from './operations.js';
import { Overview } from './overview.js';
import { RuntimeDetail, Runtimes } from './runtimes.js';
import { Scenarios } from './scenarios.js';
import { Templates } from './templates.js';

const route = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);

let notice = '';
function signOut(message = '') {
  session.signOut();
  notice = message;
  location.hash = '#/';
  renderApp();
}
onRefused(signOut);

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

function Shell() {
  const [path, setPath] = useState(route());
  useEffect(() => {
    const changed = () => setPath(route());
    addEventListener('hashchange', changed);
    // A change between the first render and this effect fired no event we heard.
    changed();
    return () => removeEventListener('hashchange', changed);
  }, []);
  const [page, id, sub] = path;
  const view =
    page === 'applications' && id ? <ApplicationDetail id={id} />
    : page === 'applications' ? <Applications />
    : page === 'runtimes' && id ? <RuntimeDetail id={id} operationId={sub} />
    : page === 'runtimes' ? <Runtimes />
    : page === 'scenarios' ? <Scenarios />
    : page === 'labels' ? <LabelDefinitions />
    : page === 'templates' ? <Templates />
    : page === 'operations' ? <Operations state={id} />
    : page === 'audit' ? <Audit />
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
          {link('labels', 'Labels')}
          {link('templates', 'Templates')}
          {link('operations', 'Operations')}
          {link('audit', 'Audit')}
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
