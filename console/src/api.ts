// The console's only way to Meridian: the REST API of the public listener, with the admin token the
// operator signed in with. The token lives in this tab's sessionStorage and goes out only as a bearer header.

const TOKEN_KEY = 'meridian.adminToken';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** A refusal of the API, with the problem's `detail` (RFC 9457) to show as it is. */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export async function call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${session.token() ?? ''}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const problem = parsed as { detail?: string; errors?: Array<{ path: string; message: string }> } | undefined;
    const fields = (problem?.errors ?? []).map((e) => `${e.path}: ${e.message}`);
    throw new Problem(res.status, [problem?.detail ?? `HTTP ${res.status}`, ...fields].join(' — '));
  }
  return parsed as T;
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Every item of a paginated list, up to `max` (100 per request). */
/** The items of one page of a list (the API's newest or first `limit`). */
export const items = async <T>(path: string): Promise<T[]> => (await call<Page<T>>('GET', path)).items;

export async function all<T>(path: string, max = 1000): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Page<T> = await call<Page<T>>('GET', `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items;
}

export interface Status {
  condition: string;
  updatedAt: string;
  message?: string;
}

export interface Application {
  id: string;
  name: string;
  description?: string;
  labels: Record<string, unknown>;
  scenarios: string[];
  status: Status;
  createdAt: string;
}

export interface Runtime {
  id: string;
  name: string;
  description?: string;
  labels: Record<string, unknown>;
  scenarios: string[];
  provider: string;
  status: Status;
  eventUrl?: string;
  configVersion: number;
  lastSeenAt: string | null;
  createdAt: string;
  /** The scenarios of `scenarios` an automatic assignment gives (the runtime's label matches its selector). */
  assignedScenarios: string[];
  scenariosByHand: string[];
}

export interface Operation {
  id: string;
  type: string;
  state: string;
  stage: string;
  message?: string;
  resourceId: string;
  workflowId: string | null;
  temporalUiUrl?: string;
  startedAt: string;
  finishedAt?: string;
  /** A scenario assignment's pass: runtimes examined of the tenant's total, joined and left so far. */
  progress?: { examined: number; total: number; joined: number; left: number };
}

export interface Overview {
  applications: Record<string, number>;
  runtimes: Record<string, number>;
  freshness: { fresh: number; stale: number; never: number };
  staleAfterSeconds: number;
  credentialSlots: Record<string, number>;
  failedDeliveries24h: number;
  operations: { inProgress: number; failed24h: number };
}

/** A scenario's automatic assignment: runtimes whose label `key` equals `value` (JSON) join it. */
export interface Assignment {
  id: string;
  scenario: string;
  selector: { key: string; value: unknown };
  createdAt: string;
}

/** The JSON Schema every label with `key` must satisfy, on every application and runtime of the tenant. */
export interface LabelDefinition {
  key: string;
  schema: unknown;
  createdAt: string;
  updatedAt: string;
}

/** One entry of the audit trail: who changed what, when, in which request. */
export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  actorKind: string;
  action: string;
  resource: string;
  requestId?: string;
  status?: number;
  detail?: Record<string, unknown>;
}

/** An application template as listed (without its application): the placeholders its values fill in. */
export interface ApplicationTemplate {
  id: string;
  name: string;
  description: string;
  placeholders: Array<{ name: string; description?: string }>;
  createdAt: string;
}

export interface Definition {
  id: string;
  name: string;
  description: string;
  targetUrl?: string;
  spec?: { type: string; format: string; fetchUrl?: string; status: string; message?: string };
}

export interface Webhook {
  id: string;
  type: string;
  url: string;
  hasSecret: boolean;
  disabled?: { at: string; reason: string };
}

export interface Delivery {
  id: string;
  eventType: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  temporalUiUrl?: string;
  createdAt: string;
  updatedAt: string;
}

export interface CredentialSlot {
  apiId: string;
  apiName: string | null;
  runtimeId: string;
  runtimeName: string | null;
  status: string;
  updatedAt: string;
}

export interface Certificate {
  serial: string;
  notBefore: string;
  notAfter: string;
  revokedAt: string | null;
  revocationReason: string | null;
}

export interface AgentStatus {
  workflowId: string;
  temporalUiUrl?: string;
  state: string;
  design?: string;
  connected?: boolean;
  appliedVersion?: number;
  lastFetchAt?: string;
  certificateNotAfter?: string;
  consecutiveErrors?: number;
}

export interface StageEntered {
  stage: string;
  at: string;
}
