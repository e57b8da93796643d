// Label definitions: the JSON Schema that every label with a key must satisfy, on every application
// and runtime of the tenant (set with `meridian label define` or PUT /v1/label-definitions/{key}).
import { items, type LabelDefinition } from './api.js';
import { useLive } from './live.js';
import { Refusal, When } from './parts.js';

export function LabelDefinitions() {
  const { data, error } = useLive(() => items<LabelDefinition>('/v1/label-definitions'));
  return (
    <section>
      <h1>Label definitions</h1>
      <p class="hint">Every label with a key defined here must satisfy its JSON Schema, on every application and runtime; a label that breaks it is refused. Keys not defined take any value.</p>
      <Refusal message={error} />
      {data && data.length === 0 && <p class="hint">None.</p>}
      {data && data.length > 0 && (
        <table>
          <thead>
            <tr><th scope="col">Key</th><th scope="col">Schema</th><th scope="col">Updated</th></tr>
          </thead>
          <tbody>
            {data.map((d) => (
              <tr key={d.key}>
                <th scope="row"><code>{d.key}</code></th>
                <td><code>{JSON.stringify(d.schema)}</code></td>
                <td><When iso={d.updatedAt} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
