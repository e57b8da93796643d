// Pieces several views show: conditions, charts, labels and scenarios editors, operations with their
// stages and Temporal UI links, certificates.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { all, call, items, type Certificate, type Operation, type StageEntered } from './api.js';
import { relative, useLive } from './live.js';

export const Condition = ({ value }: { value: string }) => <span class={`condition c-${value}`}>{value}</span>;

/** A time as "4 min ago", with the exact time as its title. */
export const When = ({ iso }: { iso?: string | null }) => (iso ? <time dateTime={iso} title={iso}>{relative(iso)}</time> : <span>—</span>);

/** An error of the API as its problem detail. */
export const Refusal = ({ message }: { message?: string }) => (message ? <p role="alert" class="error">{message}</p> : null);

/** A horizontal bar per value: a picture of counts. */
export function Bars({ title, counts }: { title: string; counts: Array<[string, number]> }) {
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
              <text x="0" y="16">{key}</text>
              <rect x="120" y="4" height="16" width={(150 * n) / max} class={`bar c-${key}`} />
              <text x={126 + (150 * n) / max} y="16">{n}</text>
            </g>
          ))}
        </svg>
      )}
    </figure>
  );
}

/** One figure that matters, with a link to where it comes from. */
export const Stat = ({ label, value, href, bad }: { label: string; value: number; href?: string; bad?: boolean }) => (
  <div class={`stat${bad && value > 0 ? ' bad' : ''}`}>
    <span class="value">{value}</span> {href ? <a href={href}>{label}</a> : <span>{label}</span>}
  </div>
);

/** What an operator typed as a label value: its JSON, or the text itself when it is not JSON. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The labels of an application or runtime: each removable, new ones added as JSON (or as text when not JSON). */
export function LabelEditor({ path, labels, onSaved }: { path: string; labels: Record<string, unknown>; onSaved: () => void }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [message, setMessage] = useState('');
  const act = async (method: 'PUT' | 'DELETE', labelKey: string, body?: unknown) => {
    try {
      await call(method, `${path}/labels/${encodeURIComponent(labelKey)}`, body);
      onSaved();
      setMessage(method === 'PUT' ? `Label ${labelKey} saved.` : `Label ${labelKey} removed.`);
      if (method === 'PUT') {
        setKey('');
        setValue('');
      }
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  return (
    <section aria-labelledby="labels-title">
      <h2 id="labels-title">Labels</h2>
      {Object.keys(labels).length === 0 && <p class="hint">No labels.</p>}
      <ul class="labels">
        {Object.entries(labels).map(([k, v]) => (
          <li key={k}>
            <code>{k}={JSON.stringify(v)}</code>{' '}
            <button type="button" aria-label={`Remove label ${k}`} onClick={() => void act('DELETE', k)}>×</button>
          </li>
        ))}
      </ul>
      <form class="inline" onSubmit={(e) => (e.preventDefault(), void act('PUT', key, jsonOrText(value)))}>
        <label for="label-key" class="sr-only">Label key</label>
        <input id="label-key" required placeholder="key" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
        <label for="label-value" class="sr-only">Label value (JSON or text)</label>
        <input id="label-value" required placeholder='value, e.g. "prod" or 3' value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        <button type="submit">Set label</button>
      </form>
      {message && <p role="status">{message}</p>}
    </section>
  );
}

/**
 * Checkboxes of the tenant's scenarios given by hand (`current`); saving PUTs the chosen ones (the API
 * refuses what it must, e.g. none for an application). A runtime's scenarios an assignment gives
 * (`assigned`) are marked: they stay while its label matches, whatever the checkbox says.
 */
export function ScenarioEditor({ path, current, assigned = [], onSaved }: { path: string; current: string[]; assigned?: string[]; onSaved: () => void }) {
  const { data } = useLive(() => all<{ name: string }>('/v1/scenarios'));
  const [chosen, setChosen] = useState<string[]>();
  const [message, setMessage] = useState('');
  const selected = chosen ?? current;
  const toggle = (name: string) => setChosen(selected.includes(name) ? selected.filter((n) => n !== name) : [...selected, name]);
  const save = async (event: Event) => {
    event.preventDefault();
    try {
      await call('PUT', `${path}/scenarios`, selected);
      onSaved();
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
            {assigned.includes(name) && <span class="hint"> (also by assignment)</span>}
          </label>
        ))}
      </fieldset>
      <button type="submit">Save scenarios</button>
      {message && <p role="status">{message}</p>}
    </form>
  );
}

/** A link to a workflow's page in the Temporal UI, when Meridian knows where the UI is. */
export const TemporalLink = ({ url, id, text }: { url?: string; id: string | null; text?: string }) =>
  url ? (
    <a href={url} target="_blank" rel="noopener noreferrer">
      {text ?? id} ↗<span class="sr-only"> (Temporal UI, opens in a new tab)</span>
    </a>
  ) : (
    <code>{text ? '—' : (id ?? '—')}</code>
  );

/** The stages an operation's workflow entered, with when: live while it runs. */
export function StageTimeline({ operation }: { operation: Operation }) {
  const { data } = useLive(() => items<StageEntered>(`/v1/operations/${operation.id}/stages`), [operation.id, operation.stage]);
  if (!data) return null;
  return (
    <ol class="timeline" aria-label={`Stages of ${operation.type}`}>
      {data.map((entry, i) => (
        <li key={`${entry.stage}-${i}`} class={i === data.length - 1 ? `current s-${operation.state}` : 'passed'}>
          <strong>{entry.stage}</strong> <When iso={entry.at} />
        </li>
      ))}
    </ol>
  );
}

/** Where the resource of an operation is shown. */
const resourceHref = (op: Operation) =>
  op.type === 'PROVISIONING' || op.type === 'DEPROVISIONING' || op.type === 'RECOVERY' ? `#/runtimes/${op.resourceId}`
  : op.type === 'PAIRING' || op.type === 'UNREGISTRATION' ? `#/applications/${op.resourceId}`
  : op.type === 'SCENARIO_ASSIGNMENT' ? '#/scenarios'
  : undefined;

/** How far a scenario assignment's pass is: "examined 3 of 10, joined 2, left 0". */
const progressOf = ({ progress: p }: Operation) => (p ? `examined ${p.examined} of ${p.total}, joined ${p.joined}, left ${p.left}` : '');

/** Operations (of one resource, or in one state), newest first, each linked to its workflow; the newest shows its stages. */
export function Operations({ query, timeline = false, withResource = false }: { query: string; timeline?: boolean; withResource?: boolean }) {
  const { data, error } = useLive(() => items<Operation>(`/v1/operations?${query}`), [query]);
  return (
    <>
      <Refusal message={error} />
      {data && data.length === 0 && <p class="hint">None.</p>}
      {data && data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Operation</th>
              <th scope="col">State</th>
              <th scope="col">Stage</th>
              <th scope="col">Started</th>
              <th scope="col">Workflow</th>
            </tr>
          </thead>
          <tbody>
            {data.map((op, i) => (
              <tr key={op.id}>
                <td>
                  {withResource && resourceHref(op) ? <a href={resourceHref(op)}>{op.type}</a> : op.type}
                  {timeline && i === 0 && <StageTimeline operation={op} />}
                </td>
                <td><Condition value={op.state} /></td>
                <td>{op.stage}{op.progress ? ` — ${progressOf(op)}` : ''}{op.message ? ` — ${op.message}` : ''}</td>
                <td><When iso={op.startedAt} /></td>
                <td><TemporalLink url={op.temporalUiUrl} id={op.workflowId} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** The most recent client certificates of an application or runtime. */
export function Certificates({ path }: { path: string }) {
  const { data } = useLive(() => items<Certificate>(`${path}/certificates?limit=10`), [path]);
  if (!data) return null;
  if (data.length === 0) return <p class="hint">No certificate issued yet.</p>;
  return (
    <table>
      <thead>
        <tr><th scope="col">Serial</th><th scope="col">Expires</th><th scope="col">Revoked</th></tr>
      </thead>
      <tbody>
        {data.map((c) => (
          <tr key={c.serial}>
            <td><code>{c.serial}</code></td>
            <td><When iso={c.notAfter} /></td>
            <td>{c.revokedAt ? <>{relative(c.revokedAt)} — {c.revocationReason ?? ''}</> : 'no'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A button that deletes after the operator confirms, then goes to `after`. */
export function DeleteButton({ what, path, warning, after }: { what: string; path: string; warning: string; after: (result: unknown) => string }) {
  const [message, setMessage] = useState('');
  const remove = async () => {
    if (!confirm(`Delete ${what}? ${warning}`)) return;
    try {
      location.hash = after(await call('DELETE', path));
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  return (
    <>
      <button type="button" class="danger" onClick={() => void remove()}>Delete…</button>
      <Refusal message={message} />
    </>
  );
}

/** Rows per page of a list. */
export const PAGE_SIZE = 25;

/** Previous / next over a list already read; says where it is. */
export function Pager({ page, count, onPage }: { page: number; count: number; onPage: (page: number) => void }) {
  const pages = Math.max(1, Math.ceil(count / PAGE_SIZE));
  if (pages === 1) return null;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={page === 0} onClick={() => onPage(page - 1)}>Previous</button>
      <span>Page {page + 1} of {pages} ({count})</span>
      <button type="button" disabled={page >= pages - 1} onClick={() => onPage(page + 1)}>Next</button>
    </nav>
  );
}

/** A titled section of a detail page. */
export const Part = ({ id, title, children }: { id: string; title: string; children: ComponentChildren }) => (
  <section aria-labelledby={id}>
    <h2 id={id}>{title}</h2>
    {children}
  </section>
);
