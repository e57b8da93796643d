// The audit trail: who changed what in the tenant, when and in which request, newest first; filtered by
// actor and resource (GET /v1/audit, as `meridian audit` reads it).
import { useState } from 'preact/hooks';
import { items, type AuditEntry } from './api.js';
import { useLive } from './live.js';
import { Refusal, When } from './parts.js';

/** Entries shown at once: the newest. */
const SHOWN = 100;

export function Audit() {
  const [actor, setActor] = useState('');
  const [resource, setResource] = useState('');
  const [filter, setFilter] = useState({ actor: '', resource: '' });
  const query = new URLSearchParams({ limit: String(SHOWN), ...(filter.actor && { actor: filter.actor }), ...(filter.resource && { resource: filter.resource }) });
  const { data, error } = useLive(() => items<AuditEntry>(`/v1/audit?${query.toString()}`), [filter.actor, filter.resource]);
  return (
    <section>
      <h1>Audit trail</h1>
      <p class="hint">Every change of state in this tenant: by administrators (their token's name), applications and runtimes (their certificate), one-time token holders and workflows. Never a secret. The newest {SHOWN}.</p>
      <form class="inline" onSubmit={(e) => (e.preventDefault(), setFilter({ actor: actor.trim(), resource: resource.trim() }))}>
        <label for="audit-actor">Actor</label>
        <input id="audit-actor" placeholder="admin:ops" value={actor} onInput={(e) => setActor((e.target as HTMLInputElement).value)} />
        <label for="audit-resource">Resource</label>
        <input id="audit-resource" placeholder="/v1/runtimes/…" value={resource} onInput={(e) => setResource((e.target as HTMLInputElement).value)} />
        <button type="submit">Filter</button>
      </form>
      <Refusal message={error} />
      {data && data.length === 0 && <p class="hint">No entries.</p>}
      {data && data.length > 0 && (
        <table>
          <thead>
            <tr><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Resource</th><th scope="col">Status</th><th scope="col">Request</th></tr>
          </thead>
          <tbody>
            {data.map((entry) => (
              <tr key={entry.id}>
                <td><When iso={entry.at} /></td>
                <td><code>{entry.actor}</code></td>
                <td>{entry.action}</td>
                <td><code>{entry.resource}</code></td>
                <td>{entry.status ?? (entry.detail?.state as string | undefined) ?? ''}</td>
                <td><code>{entry.requestId ?? ''}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
