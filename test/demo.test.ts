import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTemporalTools } from '../dev/tools.js';
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

    // An operator lists everything that happened to the runtime with the Temporal CLI.
    const { rows } = await api.pool.query("SELECT resource_id FROM operations WHERE tenant_id = $1 AND type = 'PROVISIONING'", [tenant.id]);
    const runtimeId: string = rows[0].resource_id;
    const temporal = (...args: string[]) => {
      const result = spawnSync(ensureTemporalTools().cli!, [...args, '--address', inject('temporalAddress'), '--namespace', 'default', '--output', 'json'], { encoding: 'utf8', timeout: 30_000 });
      expect(result.status, result.stderr).toBe(0);
      return JSON.parse(result.stdout);
    };
    let listed: Array<{ execution: { workflowId: string }; type: { name: string } }> = [];
    await expect
      .poll(() => (listed = temporal('workflow', 'list', '--query', `MeridianRuntimeId="${runtimeId}"`)).map((w: (typeof listed)[number]) => w.execution.workflowId).sort(), { timeout: 10_000 })
      .toEqual(expect.arrayContaining([`provisioning:${runtimeId}`, `agent:${runtimeId}`, `deprovisioning:${runtimeId}`]));
    expect(listed.map((w) => w.type.name)).toEqual(expect.arrayContaining(['provisioning', 'runtimeAgent', 'deprovisioning', 'notifyApplication']));
    expect(listed.filter((w) => w.execution.workflowId.startsWith('notify:')).map((w) => w.execution.workflowId.split(':')[2]).sort()).toEqual([
      'runtime.connected',
      'runtime.removed',
    ]);
    const described = temporal('workflow', 'describe', '--workflow-id', `provisioning:${runtimeId}`);
    expect(JSON.stringify(described)).toContain('until its agent is CONNECTED');
  });
});
