// Who is acting, for the audit trail's triggers (db/migrations/017_audit.sql): the API runs each request
// in an acting scope, and every transaction begun inside it tells PostgreSQL the actor and the request id
// (transaction-local settings, sent with the BEGIN: no extra round trip). A transaction outside any scope
// is a workflow's activity, which the triggers name by the workflow id of the row they record.
import { AsyncLocalStorage } from 'node:async_hooks';
import type pg from 'pg';

/** Who changes state: the kinds of the audit trail's actors. */
export const ACTOR_KINDS = ['admin', 'application', 'runtime', 'workflow', 'operator'] as const;
export type ActorKind = (typeof ACTOR_KINDS)[number];

/** An actor as the audit trail names it: `admin:<token name>`, `application:<id>`, `workflow:<workflow id>`, … */
export interface Actor {
  kind: ActorKind;
  name: string;
}

/** What a scope knows: the request id, and the actor once it is authenticated (read when a transaction begins). */
export interface ActingScope {
  requestId?: string;
  actor(): Actor | undefined;
}

const scopes = new AsyncLocalStorage<ActingScope>();

/** Runs `fn` as `scope`: transactions begun inside it (and in what it awaits) record that actor. */
export function actingAs<T>(scope: ActingScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/**
 * The statement that begins a transaction: `BEGIN`, followed inside an acting scope whose actor is known
 * by the transaction-local settings the audit triggers read.
 */
export function beginStatement(client: pg.ClientBase): string {
  const scope = scopes.getStore();
  const actor = scope?.actor();
  if (!actor) return 'BEGIN';
  const setting = (name: string, value: string) => `set_config('meridian.${name}', ${client.escapeLiteral(value)}, true)`;
  return `BEGIN; SELECT ${setting('actor', actor.name)}, ${setting('actor_kind', actor.kind)}, ${setting('request_id', scope?.requestId ?? '')}`;
}
