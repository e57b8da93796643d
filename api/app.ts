import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import express, { type Express, type RequestHandler } from 'express';
import type pg from 'pg';
import type { Ca } from '../trust/ca.js';
import type { ConnectorConfig, ProvisioningConfig, RegistrationConfig } from '../lib/config.js';
import type { Keyring } from '../trust/encryption.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { announcePendingSlots } from '../services/announcements.js';
import type { ConfigWaiters } from '../services/config-waiters.js';
import type { LastSeen } from '../services/last-seen.js';
import { actingScope, recordAnswers } from './audit.js';
import { adminAuthenticator } from './auth.js';
import { CONSOLE_DIR, CONSOLE_PATH, consoleRouter } from './console.js';
import type { AuthorityWatch } from '../trust/authorities.js';
import { clientAuthenticator, type RevocationList } from './mtls.js';
import { openApiDocument, withPaths } from './openapi.js';
import { HttpProblem, errorHandler, notFoundRoute } from './problems.js';
import { shedExcessRequests } from './shedding.js';
import { mount, type Route } from './route.js';
import { ownApplicationRoute, ownApplicationRoutes } from './routes/application/index.js';
import { applicationReadRoutes } from './routes/application-reads.js';
import { applicationTemplateRoutes } from './routes/application-templates.js';
import { applicationRoutes } from './routes/applications.js';
import { auditRoutes } from './routes/audit.js';
import { certificateInventoryRoutes } from './routes/certificates.js';
import { certificateRoutes, connectorRoutes } from './routes/connector.js';
import { operationalRoutes } from './routes/operational.js';
import { labelDefinitionRoutes } from './routes/label-definitions.js';
import { scenarioAssignmentRoutes } from './routes/scenario-assignments.js';
import { operationRoutes } from './routes/operations.js';
import { overviewRoutes } from './routes/overview.js';
import { ownRedeliveryRoutes, redeliveryRoutes } from './routes/redeliveries.js';
import { ownRuntimeRoutes } from './routes/runtime.js';
import { runtimeObjectRoutes, runtimeRoutes } from './routes/runtimes.js';
import { scenarioRoutes } from './routes/scenarios.js';

export interface ApiDeps {
  pool: pg.Pool;
  temporal: Client;
  logger: Logger;
  metrics: Metrics;
  ca: Ca;
  connector: ConnectorConfig;
  keyring: Keyring;
  registration: RegistrationConfig;
  provisioning: ProvisioningConfig;
  /** The built operators' console served at /console/. @default dist/console of the project */
  consoleDir?: string;
  /** Task queue of the management-plane worker, where the API starts workflows. */
  taskQueue: string;
  trustProxy?: boolean;
  /** Listen for configuration changes: wake held configuration requests (`Prefer: wait`) and hint agents. @default true */
  configHints?: boolean;
  /**
   * With configHints, also signal `configChanged` to each changed runtime's agent workflow (one workflow
   * task per runtime and change); agents that long-poll their configuration need none.
   * @default true
   */
  configSignals?: boolean;
  /** Base URL of the Temporal Web UI: operations and agents link their workflow's page there. */
  temporalUiUrl?: string;
  /** A CONNECTED runtime unheard of this long counts as stale. @default 180 */
  runtimeStaleSeconds?: number;
  /** How often the runtimes heard from are written to `last_seen_at`. @default 15000 */
  lastSeenFlushMs?: number;
  /**
   * Requests admitted at once; the excess is answered 429 with `Retry-After` (api/shedding.ts). 0 or
   * unset admits every request; processes started from the configuration get MERIDIAN_MAX_REQUESTS_IN_FLIGHT.
   */
  maxRequestsInFlight?: number;
}

export interface AppContext extends ApiDeps {
  revocations: RevocationList;
  /** The CAs this process signs with and trusts, re-read as a rotation goes on. */
  authorities: AuthorityWatch;
  urls: () => { public: string; mtls: string };
  /** Configuration requests held for `Prefer: wait`. */
  waiters: ConfigWaiters;
  /** When each runtime last called, written coalesced. */
  lastSeen: LastSeen;
}

export const VERSION = '0.1.0';
const BODY_LIMIT = '1mb';
const REQUEST_ID = /^[\w.-]{1,64}$/;
/**
 * Every Temporal call a request makes ends by this deadline: while Temporal is unreachable a request
 * is answered 503 (or with its recorded intent) within it, instead of waiting out the client's retries.
 */
const TEMPORAL_DEADLINE_MS = 10_000;

/** Request id, a child logger, one access-log line and the duration histogram for every request. */
function observe(logger: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.log = logger.child({ requestId: req.id });
    res.set('X-Request-Id', req.id);
    const end = metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      const route = (res.locals.route as string | undefined) ?? 'unmatched';
      const seconds = end({ route, status: String(res.statusCode) });
      req.log.info({ method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000), client: req.client?.id }, 'request');
    });
    next();
  };
}

/** Bodies of writes must be JSON; anything else is refused before it is read. */
const requireJson: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    throw new HttpProblem(415, 'Unsupported Media Type', 'the request body must be application/json');
  }
  next();
};

/** Connector routes check the token's purpose themselves; here only its presence. */
const connectorTokenPresent = async (req: express.Request) => {
  if (!req.get('connector-token')) throw new HttpProblem(401, 'Unauthorized', 'invalid or expired token');
};

/** The Express application serving both listeners: observability, body rules, routes, problem+json errors. */
export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', ctx.trustProxy ?? false);
  app.set('query parser', 'simple');
  app.use(observe(ctx.logger, ctx.metrics));
  app.use(shedExcessRequests({ maxInFlight: ctx.maxRequestsInFlight, metrics: ctx.metrics, waiting: () => ctx.waiters.held }));
  app.use(actingScope);
  app.use((_req, _res, next) => void ctx.temporal.connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, async () => next()));
  app.use(requireJson);
  app.use(express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'], strict: false }));

  let document: unknown;
  const membershipChanged = (tenantId: string) => announcePendingSlots(ctx, tenantId);
  // The registration order is the order of /openapi.json; keep it.
  const routes: Route[] = [
    ...operationalRoutes({ ...ctx, openapi: () => (document ??= withPaths(openApiDocument(routes, VERSION), CONSOLE_PATH)) }),
    ...applicationRoutes(ctx.pool, membershipChanged),
    ...runtimeObjectRoutes(ctx.pool, membershipChanged),
    ...scenarioRoutes(ctx.pool),
    ...scenarioAssignmentRoutes(ctx),
    ...labelDefinitionRoutes(ctx.pool),
    ...applicationTemplateRoutes(ctx),
    ...operationRoutes(ctx),
    ...overviewRoutes(ctx),
    ...auditRoutes(ctx.pool),
    ...applicationReadRoutes(ctx),
    ...redeliveryRoutes(ctx),
    ...certificateInventoryRoutes(ctx),
    ...connectorRoutes(ctx),
    ownApplicationRoute(ctx.pool),
    ...certificateRoutes(ctx),
    ...ownApplicationRoutes(ctx),
    ...ownRedeliveryRoutes(ctx),
    ...runtimeRoutes(ctx),
    ...ownRuntimeRoutes(ctx),
  ];
  const router = express.Router();
  mount(router, routes, {
    admin: adminAuthenticator(ctx.pool),
    connector: connectorTokenPresent,
    application: clientAuthenticator(ctx.revocations, 'application'),
    runtime: clientAuthenticator(ctx.revocations, 'runtime'),
    client: clientAuthenticator(ctx.revocations),
  }, recordAnswers(ctx.pool, ctx.logger));
  app.use(router);
  app.use(consoleRouter(ctx.consoleDir ?? CONSOLE_DIR));
  app.use(notFoundRoute);
  app.use(errorHandler(ctx.logger));
  return app;
}
