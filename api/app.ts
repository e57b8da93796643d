import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import express, { type Express, type RequestHandler } from 'express';
import type pg from 'pg';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { openApiDocument } from './openapi.js';
import { adminAuthenticator } from './auth.js';
import { directorRoutes } from './director.js';
import { operationalRoutes } from './operational.js';
import { HttpProblem, errorHandler, notFoundRoute } from './problems.js';
import { mount, type Route } from './route.js';

export interface ApiDeps {
  pool: pg.Pool;
  temporal: Client;
  logger: Logger;
  metrics: Metrics;
  trustProxy?: boolean;
}

export const VERSION = '0.1.0';
const BODY_LIMIT = '1mb';
const REQUEST_ID = /^[\w.-]{1,64}$/;

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
      req.log.info({ method: req.method, route, status: res.statusCode, ms: Math.round(seconds * 1000) }, 'request');
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

/** The Express application: observability, body rules, routes, and the problem+json error handler. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy ?? false);
  app.set('query parser', 'simple');
  app.use(observe(deps.logger, deps.metrics));
  app.use(requireJson);
  app.use(express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'], strict: false }));

  let document: unknown;
  const routes: Route[] = [];
  routes.push(...operationalRoutes({ ...deps, openapi: () => (document ??= openApiDocument(routes, VERSION)) }), ...directorRoutes(deps.pool));
  const router = express.Router();
  mount(router, routes, { admin: adminAuthenticator(deps.pool) });
  app.use(router);
  app.use(notFoundRoute);
  app.use(errorHandler(deps.logger));
  return app;
}
