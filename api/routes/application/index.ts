// The calling application's own endpoints (mTLS, application certificates): itself, its configuration,
// and (composed here) its definitions, webhooks and credential slots.
import type pg from 'pg';
import { z } from 'zod';
import { applicationConfiguration } from '../../../db/configuration.js';
import { route, type Route } from '../../route.js';
import { Application, toApplication } from '../applications.js';
import { TrustFields, callerRow, configurationTag, trustOf } from '../objects.js';
import type { AuthorityWatch } from '../../../trust/authorities.js';
import { credentialRoutes } from './credentials.js';
import { definitionRoutes, type DefinitionRouteDeps } from './definitions.js';
import { webhookRoutes } from './webhooks.js';

const ApplicationConfiguration = z.object({
  applicationId: z.uuid(),
  configVersion: z.number().int(),
  runtimes: z.array(z.object({ id: z.uuid(), name: z.string(), status: z.string(), eventUrl: z.string().nullable(), scenarios: z.array(z.string()) })),
  ...TrustFields,
});

/** `GET /v1/application`: the calling application. */
export function ownApplicationRoute(pool: pg.Pool): Route {
  return route({
    method: 'get',
    path: '/v1/application',
    operationId: 'get-own-application',
    summary: 'The calling application (mTLS)',
    tag: 'application',
    auth: 'application',
    responses: { 200: { description: 'The caller', schema: Application } },
    handle: async ({ req }) => ({ status: 200, body: toApplication(await callerRow(pool, 'application', req)) }),
  });
}

/** `GET /v1/application/configuration`: the runtimes the caller shares a scenario with, tagged by its configVersion. */
function configurationRoute(pool: pg.Pool, authorities: AuthorityWatch): Route {
  return route({
    method: 'get',
    path: '/v1/application/configuration',
    operationId: 'get-application-configuration',
    summary: 'Runtimes sharing a scenario with the caller, their status and eventUrl; ETag is the configVersion (If-None-Match → 304)',
    tag: 'application',
    auth: 'application',
    responses: { 200: { description: 'The configuration', schema: ApplicationConfiguration }, 304: { description: 'Unchanged since the ETag' } },
    handle: async ({ req }) => {
      const { tenantId, id } = req.client!;
      const { version, etag, unchanged } = await configurationTag(pool, 'application', req);
      if (unchanged) return { status: 304, headers: { etag } };
      return { status: 200, headers: { etag }, body: { applicationId: id, configVersion: version, runtimes: await applicationConfiguration(pool, tenantId, id), ...trustOf(authorities) } };
    },
  });
}

/** The caller's definitions (APIs, then events), webhooks, credential slots and configuration, in that order. */
export function ownApplicationRoutes(deps: DefinitionRouteDeps & { authorities: AuthorityWatch }): Route[] {
  return [...definitionRoutes(deps), ...webhookRoutes(deps), ...credentialRoutes(deps), configurationRoute(deps.pool, deps.authorities)];
}
