import type { Request, Response, Router } from 'express';
import { type z } from 'zod';
import type { Tenant } from '../db/tenants.js';
import type { Logger } from '../lib/logger.js';
import { HttpProblem, badRequest, fieldErrors } from './problems.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The tenant of the authenticated administrator, set for routes with `auth: 'admin'`. */
    tenant?: Tenant;
    /** The name of the administrator's admin token (never its value), for the audit trail. */
    adminTokenName?: string;
    /** Whose one-time token a connector route accepted (never the token), once it checked it. */
    tokenHolder?: { tenantId: string; kind: 'application' | 'runtime'; id: string };
    /** Request id, echoed as `X-Request-Id` and on every log line of the request. */
    id: string;
    log: Logger;
  }
}

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** admin: bearer token; connector: one-time token header; application/runtime/client: mTLS certificate of that kind (client: either). */
export type Auth = 'admin' | 'connector' | 'application' | 'runtime' | 'client';
/** Establishes the caller's identity on `req` or throws a 401 problem. */
export type Authenticator = (req: Request) => Promise<void>;

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** The answer of a route that has nothing to say. */
export const noContent = { 204: { description: 'Done' } };

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** @default application/json */
  contentType?: string;
  /** Headers of the answer, by name, each with what it says. */
  headers?: Record<string, string>;
}

/**
 * One endpoint: its contract (schemas, responses) and its handler. The same schemas validate requests
 * and generate `/openapi.json`, so the document cannot drift from what the server accepts.
 */
export interface Route<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType, H extends z.ZodType = z.ZodType> {
  method: Method;
  /** OpenAPI-style path, e.g. `/v1/applications/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** Who may call it; routes without `auth` are public. */
  auth?: Auth;
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers the route reads, by lowercase name as Node delivers them (an object schema, not strict). */
  headers?: H;
  responses: Record<number, ResponseSpec>;
  /**
   * 4xx answers to requests this route's schemas accept, by status, and why: what a schema cannot say
   * (a state the request conflicts with). Schemas registered in `refusals` (api/schemas.ts) add theirs.
   */
  refusals?: Record<number, string>;
  /** A GET that changes state (it redeems a one-time token): recorded in the audit trail like a write. */
  audited?: boolean;
  handle(input: { params: z.output<P>; query: z.output<Q>; body: z.output<B>; headers: z.output<H>; req: Request; res: Response }): Promise<Reply | undefined> | Reply | undefined;
}

/** Identity helper that keeps a route's handler typed by its schemas. */
export function route<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType, H extends z.ZodType = z.ZodType>(
  spec: Route<P, Q, B, H>,
): Route {
  return spec as unknown as Route;
}

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.output<T> {
  if (!schema) return undefined as z.output<T>;
  const result = schema.safeParse(value);
  if (!result.success) throw badRequest(`the request ${where} is invalid`, fieldErrors(result.error, where === 'body' ? undefined : where));
  return result.data;
}

/** How deep a request body may nest: deeper JSON is refused before anything walks it recursively. */
export const MAX_BODY_DEPTH = 64;

/**
 * The first reason a body cannot be stored, with its path: a string (or key) holding U+0000, which
 * PostgreSQL cannot store, or nesting deeper than {@link MAX_BODY_DEPTH}. Walks without recursion.
 */
function unstorable(body: unknown): { path: string; message: string } | undefined {
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value: body, path: '', depth: 0 }];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value, path, depth } = next;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return { path: path || 'body', message: 'must not contain NUL characters' };
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_BODY_DEPTH) return { path: path || 'body', message: `must not nest deeper than ${MAX_BODY_DEPTH} levels` };
    for (const [key, item] of Object.entries(value).reverse()) {
      const here = path ? `${path}.${key}` : key;
      if (key.includes('\u0000')) return { path: here, message: 'must not contain NUL characters' };
      pending.push({ value: item, path: here, depth: depth + 1 });
    }
  }
  return undefined;
}

export const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

/** Told of every answer a route's handler gave (not of errors), once it is sent: the audit trail's hook. */
export type Answered = (route: Route, req: Request, reply: Reply) => void;

/**
 * Mounts routes on an Express router, validating params, query and body before the handler runs. A
 * path answers a method it does not declare with 405 and `Allow` (HEAD with GET), and OPTIONS with 204
 * and `Allow`. `answered` hears of each reply once it is sent.
 */
export function mount(router: Router, routes: Route[], authenticators: Record<Auth, Authenticator>, answered?: Answered): void {
  const methods = new Map<string, string[]>();
  for (const r of routes) {
    const declared = methods.get(r.path) ?? [];
    methods.set(r.path, [...declared, r.method.toUpperCase()]);
    router[r.method](expressPath(r.path), async (req: Request, res: Response) => {
      res.locals.route = r.path;
      if (r.auth) await authenticators[r.auth](req);
      const refused = unstorable(req.body);
      if (refused) throw badRequest('the request body is invalid', [refused]);
      const params = parse(r.params, req.params, 'path');
      const query = parse(r.query, req.query, 'query');
      const body = r.body ? parse(r.body, req.body, 'body') : undefined;
      const headers = parse(r.headers, req.headers, 'header');
      const reply = await r.handle({ params, query, body, headers, req, res });
      if (!reply) return;
      if (reply.headers) res.set(reply.headers);
      if (reply.body === undefined) res.status(reply.status).end();
      else res.status(reply.status).json(reply.body);
      answered?.(r, req, reply);
    });
  }
  // After every route: a method a path declares never reaches these.
  for (const [path, declared] of methods) {
    const allow = allowed(declared);
    router.all(expressPath(path), (req: Request, res: Response) => {
      res.locals.route = path;
      res.set('Allow', allow);
      if (req.method === 'OPTIONS') {
        res.status(204).end();
        return;
      }
      throw new HttpProblem(405, 'Method Not Allowed', `${req.method} is not allowed here; allowed: ${allow}`);
    });
  }
}

/** The `Allow` value of a path: its declared methods, HEAD wherever GET is, and OPTIONS. */
function allowed(declared: string[]): string {
  const methods = new Set(declared);
  if (methods.has('GET')) methods.add('HEAD');
  methods.add('OPTIONS');
  return [...methods].join(', ');
}
