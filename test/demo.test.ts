import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playStory } from '../demo/story.js';
import { createTenant, startTestApi, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
});
afterAll(() => api.stop());

describe('npm run demo', () => {
  it('plays and verifies all eight steps of the story, and cleans up after itself', async () => {
    const { tenant, token } = await createTenant(api.pool);
    const lines: string[] = [];
    const steps = await playStory({ url: api.url, adminToken: token, ui: 'http://ui.test', print: (line) => lines.push(line) });
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(lines.join('\n')).toContain('http://ui.test/namespaces/default/workflows/provisioning%3A');
    expect(lines.at(-1)).toMatch(/^\nAll 8 steps verified in [\d.]+ s\.$/);
    const left = await api.pool.query(
      `SELECT (SELECT count(*) FROM applications WHERE tenant_id = $1)::int AS apps, (SELECT count(*) FROM runtimes WHERE tenant_id = $1)::int AS runtimes,
              (SELECT count(*) FROM scenarios WHERE tenant_id = $1 AND name <> 'DEFAULT')::int AS scenarios`,
      [tenant.id],
    );
    expect(left.rows[0]).toEqual({ apps: 0, runtimes: 0, scenarios: 0 });
  });
});
