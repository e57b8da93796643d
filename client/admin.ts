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
