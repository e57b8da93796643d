// The API against its own OpenAPI document: schemathesis (PyPI, installed into .tools/schemathesis/)
// generates requests for every admin and application operation from /openapi.json and checks that
// none is a server error, none the document allows is refused (unless the operation declares that
// refusal, marked x-meridian-refusal), and every answer has a declared status and matches its schema.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSchemathesis } from '../dev/tools.js';
import { call, createTenant, pairedApplication, startTestApi, tempDir, uniqueName, type TestApi } from './helpers.js';

/**
 * Generated cases per operation, and the time budget of each of the two runs (admin, application): 2 s
 * per operation, at least 60 s. The budget also ends the examples and coverage phases, so a fixed one
 * left the last of 53 operations on a loaded machine with only the unauthenticated cases (401s: the
 * fuzzer's "missing auth" warning, which fails the run).
 */
const MAX_EXAMPLES = 25;
const secondsFor = (operations: number) => Math.max(60, 2 * operations);
const CHECKS = 'not_a_server_error,positive_data_acceptance,response_schema_conformance,status_code_conformance,unsupported_method,allow_header_conformance';

/**
 * Never fuzzed: operations that would call generated URLs (a spec fetchUrl, a webhook url, an OAuth
 * tokenUrl), that end the fuzzer's own identity (revoking its certificate), that start runtime agents
 * per generated case (create-runtime), or that are not the admin's or the application's (one-time
 * connector tokens, runtime certificates).
 */
const EXCLUDED: Record<string, string> = {
  'register-apis': 'spec.fetchUrl is fetched',
  'replace-api': 'spec.fetchUrl is fetched',
  'register-events': 'spec.fetchUrl is fetched',
  'replace-event': 'spec.fetchUrl is fetched',
  'add-webhook': 'deliveries go to the generated url',
  'set-credentials': 'oauth.tokenUrl is called by gateways',
  'revoke-certificate': "revokes the fuzzer's own certificate",
  'create-runtime': 'starts a runtime agent for every generated case',
  'signing-request': 'one-time connector tokens',
  'sign-certificate': 'one-time connector tokens',
  'get-own-runtime': 'runtime certificates',
  'get-runtime-configuration': 'runtime certificates',
  'report-runtime-status': 'runtime certificates',
};

interface Operation {
  operationId: string;
  security?: Array<Record<string, unknown>>;
  responses: Record<string, { 'x-meridian-refusal'?: string[] }>;
}

let api: TestApi;
let work: string;
let document: { paths: Record<string, Record<string, Operation>> };
let fixture: { adminToken: string; applicationId: string; runtimeId: string; certificate: string; key: string; ca: string };

beforeAll(async () => {
  const st = ensureSchemathesis();
  expect(fs.existsSync(st)).toBe(true);
  api = await startTestApi({ worker: true });
  work = tempDir('contract');
  // The application's tenant is not the admin run's: nothing the admin run does (it reuses ids it has
  // seen, a delete among them) can reach the application whose certificate the second run uses.
  const paired = await pairedApplication(api);
  const { token } = await createTenant(api.pool);
  // Objects the admin operations' {id} points at, so they reach a real application and runtime.
  const target = await call(`${api.url}/v1/applications`, { token, body: { name: uniqueName('target') } });
  const runtime = await call(`${api.url}/v1/runtimes`, { token, body: { name: uniqueName('rt'), provider: 'simulated' } });
  expect([target.status, runtime.status]).toEqual([201, 202]);
  const files = { certificate: path.join(work, 'client.crt'), key: path.join(work, 'client.key'), ca: path.join(work, 'ca.crt') };
  fs.writeFileSync(files.certificate, paired.client.credentials.certificate);
  fs.writeFileSync(files.key, paired.client.credentials.key, { mode: 0o600 });
  fs.writeFileSync(files.ca, paired.client.credentials.caCertificate);
  fixture = { adminToken: token, applicationId: target.body.id, runtimeId: runtime.body.runtime.id, ...files };
  // The fuzzer's own HTTP client (Python requests) must be let in with the certificate, or every case is a 401.
  // (Asynchronously: this process serves the API.)
  const probe = await run(path.join(path.dirname(ensureSchemathesis()), 'python'), [
    '-c',
    'import sys,requests;r=requests.get(sys.argv[1],cert=(sys.argv[2],sys.argv[3]),verify=sys.argv[4]);print(r.status_code,r.text[:300])',
    `${api.mtlsUrl}/v1/application`,
    files.certificate,
    files.key,
    files.ca,
  ]);
  expect(probe.text).toMatch(/^200 /);
  document = (await call(`${api.url}/openapi.json`)).body;
  fs.writeFileSync(path.join(work, 'openapi.json'), JSON.stringify(document));
}, 180_000);

afterAll(async () => {
  await api?.stop();
});

const operations = () => Object.entries(document.paths).flatMap(([p, methods]) => Object.entries(methods).map(([method, op]) => ({ path: p, method, ...op })));
const isAdmin = (op: Operation) => !op.security || op.security.some((s) => 'adminToken' in s);
const isApplication = (op: Operation) => op.security?.some((s) => 'clientCertificate' in s) ?? false;

/** schemathesis.toml: per operation, the statuses its declared refusals add, and the {id} it targets. */
function configFor(selected: Array<Operation & { path: string; method: string }>): string {
  const lines = ['[generation]', 'allow-x00 = false', '', '[warnings]', 'fail-on = ["missing_auth"]', ''];
  for (const op of selected) {
    const refused = Object.entries(op.responses).filter(([, r]) => r['x-meridian-refusal']).map(([status]) => status);
    const id = op.path.startsWith('/v1/applications/{id}') ? fixture.applicationId : op.path.startsWith('/v1/runtimes/{id}') ? fixture.runtimeId : undefined;
    // Deleting the targets would leave the rest of the run only 404s: those keep generated ids.
    const pin = id && op.method !== 'delete' ? id : undefined;
    if (!refused.length && !pin) continue;
    lines.push('[[operations]]', `include-operation-id = "${op.operationId}"`);
    if (refused.length) {
      lines.push(`checks.positive_data_acceptance.expected-statuses = ${JSON.stringify(['2xx', '3xx', '401', '403', '404', '409', '429', ...refused])}`);
    }
    if (pin) lines.push(`parameters = { "path.id" = "${pin}" }`);
    lines.push('');
  }
  return lines.join('\n');
}

/** Runs a command without blocking this process (it serves the API), with stdout and stderr as one text. */
function run(command: string, args: string[]): Promise<{ code: number | null; text: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: work, env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' } });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('close', (code) => resolve({ code, text }));
  });
}

interface RunFigures {
  operations: number;
  cases: number;
  failures: number;
  output: string;
}

/** One bounded schemathesis run against `baseUrl`, only on `selected`. */
async function fuzz(name: string, baseUrl: string, selected: Array<Operation & { path: string; method: string }>, extra: string[]): Promise<RunFigures> {
  const config = path.join(work, `${name}.toml`);
  fs.writeFileSync(config, configFor(selected));
  const report = path.join(work, `${name}.ndjson`);
  const args = [
    '--config-file', config, 'run', path.join(work, 'openapi.json'),
    '--url', baseUrl,
    '--checks', CHECKS,
    '--max-examples', String(MAX_EXAMPLES),
    '--max-time', String(secondsFor(selected.length)),
    '--phases', 'examples,coverage,fuzzing',
    '--workers', '1',
    '--seed', '14',
    '--no-shrink',
    '--generation-database', 'none',
    '--request-timeout', '20',
    '--no-color',
    '--report', 'ndjson', '--report-ndjson-path', report,
    ...selected.flatMap((op) => ['--include-operation-id', op.operationId]),
    ...extra,
  ];
  const output = await run(ensureSchemathesis(), args);
  const cases = (output.text.match(/(\d+) generated/) ?? [])[1];
  const failures = [...output.text.matchAll(/^\s*_+ (.+) _+$/gm)].length;
  const figures = { operations: selected.length, cases: Number(cases ?? 0), failures: output.code === 0 ? 0 : Math.max(failures, 1), output: output.text };
  console.log(`contract (${name}): ${figures.operations} operations, ${figures.cases} generated cases, ${figures.failures} failures (exit ${output.code})`);
  // Only a failure prints the fuzzer's own report: its summary lines look like another test runner's
  // ("N warnings in 60s") and would stand for this suite's result in a log read by a machine.
  if (output.code !== 0) console.log(output.text);
  return figures;
}

describe('the OpenAPI document', () => {
  it('is what the admin API enforces (public listener, admin token)', async () => {
    const selected = operations().filter((op) => isAdmin(op) && !EXCLUDED[op.operationId]);
    const run = await fuzz('admin', api.url, selected, ['--header', `Authorization: Bearer ${fixture.adminToken}`]);
    expect(run.failures, run.output).toBe(0);
  }, 300_000);

  it('is what the application API enforces (mTLS listener, the application certificate)', async () => {
    const selected = operations().filter((op) => isApplication(op) && !EXCLUDED[op.operationId]);
    const run = await fuzz('application', api.mtlsUrl, selected, [
      '--request-cert', fixture.certificate,
      '--request-cert-key', fixture.key,
      '--tls-verify', fixture.ca,
    ]);
    expect(run.failures, run.output).toBe(0);
  }, 300_000);
});
