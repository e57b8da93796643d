// The operators' console (console/, built into dist/console/ by dev/console.ts) at /console/ on the
// public listener. Static files only: the page talks to the admin API with the operator's token.
import fs from 'node:fs';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import express, { type Router } from 'express';
import { PROJECT_ROOT } from '../lib/modules.js';
import { HttpProblem, notFound } from './problems.js';

/** Where the built console is served from. */
export const CONSOLE_DIR = path.join(PROJECT_ROOT, 'dist', 'console');

/**
 * Scripts, styles, images and requests from this origin only; no inline script or style, no framing,
 * no plugins, no form posts elsewhere.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'Content-Security-Policy': CONSOLE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-cache',
};

const CONSOLE_ALLOW = 'GET, HEAD, OPTIONS';

/** `/console` → `/console/`, and the built files under it; not on the mTLS listener. */
export function consoleRouter(dir: string): Router {
  const router = express.Router();
  const files = express.static(dir, { index: 'index.html', redirect: false, fallthrough: true, setHeaders: (res) => res.set(HEADERS) });
  router.use('/console', (req, res, next) => {
    if ((req.socket as TLSSocket).encrypted) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // A page only reads: every other method is refused as on any path of the API.
      res.set('Allow', CONSOLE_ALLOW);
      if (req.method === 'OPTIONS') return res.status(204).end();
      throw new HttpProblem(405, 'Method Not Allowed', `${req.method} is not allowed here; allowed: ${CONSOLE_ALLOW}`);
    }
    if (req.originalUrl === '/console') return res.redirect(301, '/console/');
    if (!fs.existsSync(dir)) throw notFound('the console is not built: run `npm run build` (npm start builds it)');
    res.locals.route = '/console';
    return files(req, res, next);
  });
  return router;
}

/** The console's entry in /openapi.json: a page, not JSON, so it is described here rather than by a route schema. */
export const CONSOLE_PATH = {
  '/console/': {
    get: {
      operationId: 'get-console',
      summary: "The operators' web console (a single page; sign in with an admin token). Its scripts and styles are files under /console/",
      tags: ['operational'],
      responses: {
        200: { description: 'The console page', content: { 'text/html': { schema: { type: 'string' } } } },
        404: { description: 'The console was not built (npm run build)', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
      },
    },
  },
};
