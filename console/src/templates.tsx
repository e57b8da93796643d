// Application templates: named application shapes whose {{placeholders}} an application made from
// them fills in (created with `meridian template create|apply` or /v1/application-templates).
import { useState } from 'preact/hooks';
import { all, type ApplicationTemplate } from './api.js';
import { useLive } from './live.js';
import { PAGE_SIZE, Pager, Refusal, When } from './parts.js';

export function Templates() {
  const { data, error } = useLive(() => all<ApplicationTemplate>('/v1/application-templates'));
  const [page, setPage] = useState(0);
  return (
    <section>
      <h1>Application templates</h1>
      <p class="hint">An application with its webhooks, APIs and events whose strings hold placeholders: an application made from a template gives a value to each.</p>
      <Refusal message={error} />
      {data && data.length === 0 && <p class="hint">None.</p>}
      {data && data.length > 0 && (
        <>
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Description</th><th scope="col">Placeholders</th><th scope="col">Created</th></tr>
            </thead>
            <tbody>
              {data.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map((t) => (
                <tr key={t.id}>
                  <th scope="row">{t.name}</th>
                  <td>{t.description || '—'}</td>
                  <td>
                    {t.placeholders.length === 0 ? '—' : (
                      <ul class="placeholders">
                        {t.placeholders.map((p) => (
                          <li key={p.name}><code>{p.name}</code>{p.description ? ` — ${p.description}` : ''}</li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td><When iso={t.createdAt} /></td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager page={page} count={data.length} onPage={setPage} />
        </>
      )}
    </section>
  );
}
