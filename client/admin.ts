// The administrator's side of the public API, as the CLI, the demo and the benchmarks call it.

export interface AdminResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of any endpoint; callers know its shape
  body: any;
}

/** One call with an admin token: the status and the JSON body (undefined when there is none). */
export async function adminRequest(baseUrl: string, token: string, method: string, urlPath: string, body?: unknown): Promise<AdminResponse> {
  const res = await fetch(`${baseUrl}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

/** Meridian refused to read an operation: the status and its problem+json body. */
export class OperationUnreadable extends Error {
  override name = 'OperationUnreadable';
  constructor(
    readonly operationId: string,
    readonly status: number,
    readonly problem: AdminResponse['body'],
  ) {
    super(`operation ${operationId}: HTTP ${status} ${problem?.detail ?? ''}`);
  }
}

/**
 * Polls an operation until it is no longer IN_PROGRESS and returns it; `onPoll` hears every answer
 * (the last one included), `onStage` every stage it passes through. Throws OperationUnreadable when
 * Meridian refuses the read, or an Error after `timeoutMs` (Infinity: never).
 */
export async function untilFinished(
  baseUrl: string,
  token: string,
  operationId: string,
  options: { timeoutMs?: number; intervalMs?: number; onStage?: (stage: string) => void; onPoll?: (operation: AdminResponse['body']) => void } = {},
): Promise<AdminResponse['body']> {
  const { timeoutMs = 180_000, intervalMs = 100, onStage, onPoll } = options;
  const deadline = Date.now() + timeoutMs;
  let stage = '';
  for (;;) {
    const res = await adminRequest(baseUrl, token, 'GET', `/v1/operations/${operationId}`);
    if (res.status !== 200) throw new OperationUnreadable(operationId, res.status, res.body);
    onPoll?.(res.body);
    if (res.body.stage !== stage) onStage?.((stage = res.body.stage));
    if (res.body.state !== 'IN_PROGRESS') return res.body;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} still ${stage} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
