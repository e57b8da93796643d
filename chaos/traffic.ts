// What clients do while a fault is injected, and how each flow ended. A flow's first request decides
// whether Meridian acknowledged it: 2xx → acknowledged, its promise must be kept (the object exists,
// the operation SUCCEEDS, the certificate arrives); 4xx or 503 → refused cleanly; anything else (another
// 5xx, no answer from a process that was not the target, no answer within a minute) → unclean. After
// the acknowledgement the client behaves as a good client does: it retries a step that answered 503 or
// nothing until the recovery deadline. An acknowledged flow that does not finish by then is lost.
import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminRequest, OperationUnreadable, untilFinished } from '../client/admin.js';
import { ConnectorError, newKey, requestCertificate, requestSigning, type MtlsClient } from '../client/connector.js';
import { withDb, type Target } from './stack.js';

export type Outcome = 'completed' | 'refused' | 'unclean' | 'lost';

export interface Flow {
  name: string;
  outcome: Outcome;
  detail?: string;
  finishedAt: number;
  /** Ids of what the flow created: applications, runtimes, definitions. */
  objects: string[];
  /** Found afterwards: more than one certificate or operation for one request. */
  duplicated?: string;
}

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of any endpoint
  body?: any;
  error?: string;
}

/** Ends a flow early with its outcome. */
class Ended extends Error {
  constructor(
    readonly outcome: Outcome,
    detail: string,
  ) {
    super(detail);
  }
}

const REQUEST_TIMEOUT_MS = 60_000;
const ok = (a: Answer) => a.status >= 200 && a.status < 300;
const clean = (a: Answer) => (a.status >= 400 && a.status < 500) || a.status === 503;
const describe = (a: Answer) => (a.status ? `HTTP ${a.status}${a.body?.detail ? ` ${a.body.detail}` : ''}` : `no answer (${a.error})`);

/** One request as an {@link Answer}: network errors and timeouts become status 0. */
async function answer(call: () => Promise<{ status: number; body?: unknown }>): Promise<Answer> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timeout after ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS)));
  try {
    return await Promise.race([call(), timeout]);
  } catch (error) {
    if (error instanceof ConnectorError) return { status: error.status, body: error.problem };
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { status: 0, error: cause?.code ?? cause?.message ?? (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** One flow's requests, with the bookkeeping that decides its outcome. */
export class FlowContext {
  readonly objects: string[] = [];
  unclean?: string;
  constructor(private readonly traffic: Traffic) {}

  private see(step: string, a: Answer): void {
    if (ok(a) || clean(a)) return;
    if (a.status === 0 && this.traffic.targetDown) return; // the process under fault is down on purpose
    this.unclean ??= `${step}: ${describe(a)}`;
  }

  /** The request that asks Meridian for something: its answer decides whether the flow was acknowledged. */
  async first(step: string, call: () => Promise<{ status: number; body?: unknown }>): Promise<Answer> {
    const a = await answer(call);
    this.see(step, a);
    if (ok(a)) return a;
    throw new Ended(clean(a) ? 'refused' : 'unclean', `${step}: ${describe(a)}`);
  }

  /** A step after the acknowledgement: retried on 503 and on no answer until the deadline; another 4xx loses the flow. */
  async retry(step: string, call: () => Promise<{ status: number; body?: unknown }>): Promise<Answer> {
    let before: Answer | undefined;
    for (;;) {
      const a = await answer(call);
      this.see(step, a);
      if (ok(a)) return a;
      const after = before ? `, after ${describe(before)}` : '';
      if (a.status >= 400 && a.status < 500) throw new Ended('lost', `${step}: ${describe(a)}${after}`);
      if (Date.now() > this.traffic.deadline) throw new Ended('lost', `${step}: ${describe(a)} until the deadline`);
      before = a;
      await sleep(1_000);
    }
  }

  /** Polls an acknowledged operation until it ends; anything but SUCCEEDED by the deadline loses the flow. */
  async operation(step: string, id: string): Promise<void> {
    const { url, adminToken } = this.traffic.target;
    let last = 'unread';
    for (;;) {
      const left = this.traffic.deadline - Date.now();
      if (left <= 0) throw new Ended('lost', `${step} operation ${id} still IN_PROGRESS at ${last} by the deadline`);
      try {
        const op = await untilFinished(url, adminToken, id, { timeoutMs: Math.min(left, 5_000), intervalMs: 500, onStage: (stage) => (last = stage) });
        if (op.state === 'SUCCEEDED') return;
        throw new Ended('lost', `${step} operation ${op.state} at ${op.stage}: ${op.message ?? ''}`);
      } catch (error) {
        if (error instanceof Ended) throw error;
        if (error instanceof OperationUnreadable) {
          this.see(`${step} poll`, { status: error.status, body: error.problem });
          if (error.status >= 400 && error.status < 500) throw new Ended('lost', `${step} operation ${id}: HTTP ${error.status}`);
        } else if (error instanceof TypeError) {
          this.see(`${step} poll`, { status: 0, error: (error.cause as { code?: string })?.code ?? error.message });
        }
        await sleep(500);
      }
    }
  }
}

export class Traffic {
  readonly flows: Flow[] = [];
  private readonly running = new Set<Promise<void>>();
  /** Set when the injection ends: acknowledged work must be done by then. */
  deadline = Infinity;
  /** While set, no answer from the target is expected (the process under fault is down): retry quietly. */
  targetDown = false;

  constructor(readonly target: Target) {}

  /** Runs one flow in the background; {@link settled} waits for all of them. */
  start(name: string, body: (f: FlowContext) => Promise<void>): Promise<void> {
    const f = new FlowContext(this);
    const done = body(f).then(
      () => ({ outcome: 'completed' as Outcome, detail: undefined as string | undefined }),
      (error: unknown) => (error instanceof Ended ? { outcome: error.outcome, detail: error.message } : { outcome: 'unclean' as Outcome, detail: `harness: ${(error as Error).message}` }),
    ).then(({ outcome, detail }) => {
      // An unclean answer on the way marks the flow unclean, unless it was lost altogether.
      const final = outcome !== 'lost' && f.unclean ? 'unclean' : outcome;
      this.flows.push({ name, outcome: final, detail: final === outcome ? detail : f.unclean, finishedAt: Date.now(), objects: f.objects });
    });
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
    return done;
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Checks in PostgreSQL that what completed flows created exists, once, with one certificate and one operation each. */
  async verify(): Promise<void> {
    const ids = this.flows.flatMap((flow) => flow.objects);
    if (ids.length === 0) return;
    const { existing, certificates, operations } = await withDb(this.target.databaseUrl, async (db) => ({
      existing: new Set(
        (
          await db.query<{ id: string }>(
            'SELECT id FROM applications WHERE id = ANY($1) UNION SELECT id FROM runtimes WHERE id = ANY($1) UNION SELECT id FROM definitions WHERE id = ANY($1)',
            [ids],
          )
        ).rows.map((r) => r.id),
      ),
      certificates: (await db.query<{ id: string; n: number }>('SELECT object_id AS id, count(*)::int AS n FROM certificates WHERE object_id = ANY($1) GROUP BY 1 HAVING count(*) > 1', [ids])).rows,
      operations: (
        await db.query<{ id: string; type: string; n: number }>(
          'SELECT resource_id AS id, type, count(*)::int AS n FROM operations WHERE resource_id = ANY($1) GROUP BY 1, 2 HAVING count(*) > 1',
          [ids],
        )
      ).rows,
    }));
    for (const flow of this.flows) {
      const gone = flow.objects.find((id) => !existing.has(id));
      if (flow.outcome === 'completed' && gone) Object.assign(flow, { outcome: 'lost', detail: `${gone} was acknowledged and is gone` });
      const cert = certificates.find((c) => flow.objects.includes(c.id));
      const op = operations.find((o) => flow.objects.includes(o.id));
      if (cert) flow.duplicated = `${cert.n} certificates for ${cert.id}`;
      else if (op) flow.duplicated = `${op.n} ${op.type} operations for ${op.id}`;
    }
  }

  count(outcome: Outcome): number {
    return this.flows.filter((flow) => flow.outcome === outcome).length;
  }
}

// The flows. Names must be valid object names: lowercase letters, digits and dashes, at most 36.

const admin = (t: Target, method: string, path: string, body?: unknown) => () => adminRequest(t.url, t.adminToken, method, path, body);

/** POST /v1/applications: acknowledged means the application exists. */
export async function createApplication(f: FlowContext, t: Target, name: string): Promise<string> {
  const app = await f.first('create application', admin(t, 'POST', '/v1/applications', { name }));
  f.objects.push(app.body.id);
  return app.body.id as string;
}

/** Pairing request (acknowledged with a token) → signing request → key and CSR → certificate → operation SUCCEEDED. */
export async function pairApplication(f: FlowContext, t: Target, applicationId: string, key?: KeyObject): Promise<void> {
  if (!f.objects.includes(applicationId)) f.objects.push(applicationId); // its certificates and PAIRING operations are counted
  const pairing = await f.first('pairing request', admin(t, 'POST', `/v1/applications/${applicationId}/pairing`));
  const signing = await f.retry('signing request', async () => ({ status: 200, body: await requestSigning(pairing.body.connectorUrl, pairing.body.token) }));
  const privateKey = key ?? (await newKey());
  await f.retry('certificate', async () => ({ status: 201, body: await requestCertificate(signing.body, privateKey) }));
  await f.operation('pairing', pairing.body.operationId);
}

/** A small inline OpenAPI document: validation is quick, so the flow is about surviving the fault. */
const SPEC = JSON.stringify({
  openapi: '3.0.3',
  info: { title: 'Chaos', version: '1.0.0' },
  paths: { '/items/{id}': { get: { parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'ok' } } } } },
});

/** POST /v1/application/apis with an inline spec over mTLS: 201 with spec SUCCEEDED, or 202 and its operation SUCCEEDED. */
export async function registerApi(f: FlowContext, client: MtlsClient, name: string): Promise<void> {
  const res = await f.first('register API', () =>
    client.request('POST', '/v1/application/apis', { name, targetUrl: 'http://127.0.0.1:9/api', spec: { type: 'OPENAPI', format: 'JSON', data: SPEC } }),
  );
  f.objects.push(res.body.id);
  if (res.status === 202) await f.operation('registration', res.body.operationId);
  else if (res.body.spec?.status !== 'SUCCEEDED') throw new Ended('lost', `registration answered ${res.status} with spec ${res.body.spec?.status}: ${res.body.spec?.message ?? ''}`);
}

/** POST /v1/runtimes with the simulated provider: acknowledged (202) means the runtime ends CONNECTED. */
export async function provisionRuntime(f: FlowContext, t: Target, name: string, provider: 'simulated' | 'local' = 'simulated'): Promise<string> {
  // A long poll interval: the agents stay quiet once CONNECTED, so they do not load the machine.
  const created = await f.first('create runtime', admin(t, 'POST', '/v1/runtimes', { name, provider, pollIntervalSeconds: 600 }));
  f.objects.push(created.body.runtime.id);
  await f.operation('provisioning', created.body.operation.id);
  return created.body.runtime.id as string;
}
