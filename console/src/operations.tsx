// Every operation of the tenant, newest first, in one state or all, each linked to its workflow.
import { Operations as List } from './parts.js';

const STATES = ['', 'IN_PROGRESS', 'FAILED', 'SUCCEEDED'];

export function Operations({ state = '' }: { state?: string }) {
  return (
    <section>
      <h1>Operations</h1>
      <nav aria-label="Operation states" class="filters">
        {STATES.map((s) => (
          <a key={s} href={`#/operations${s ? `/${s}` : ''}`} aria-current={s === state ? 'page' : undefined}>{s || 'all'}</a>
        ))}
      </nav>
      <List query={`limit=50${state ? `&state=${encodeURIComponent(state)}` : ''}`} withResource timeline={state === 'IN_PROGRESS'} />
    </section>
  );
}
