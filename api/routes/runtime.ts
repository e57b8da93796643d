// The runtime's own endpoints (mTLS, runtime certificates): itself, its configuration, its status reports.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Response } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { runtimeConfiguration, type ConfiguredApplication } from '../../db/configuration.js';
import { credentialsOfRuntime } from '../../db/credentials.js';
import { getRow } from '../../db/objects.js';
import { recoveryInProgress } from '../../db/recovery.js';
import { reportConnected } from '../../db/runtimes.js';
import type { ConfigWaiters } from '../../services/config-waiters.js';
import type { LastSeen } from '../../services/last-seen.js';
import { runtimeCalled } from '../../services/liveness.js';
import type { Logger } from '../../lib/logger.js';
import { open, type Keyring } from '../../trust/encryption.js';
import { workflowId } from '../../workflows/ids.js';
import { agentConnected } from '../../workflows/provisioning.js';
import { runtimeReconnected } from '../../workflows/recovery.js';
import { notFound } from '../problems.js';
import { route, type Route } from '../route.js';
import { HttpUrl } from '../schemas.js';
import { CredentialsBody } from './application/credentials.js';
import { TrustFields, callerRow, configurationTag, trustOf } from './objects.js';
import { Runtime, toRuntime } from './runtimes.js';
import type { AuthorityWatch } from '../../trust/authorities.js';

const RuntimeConfiguration = z.object({
  runtimeId: z.uuid(),
  configVersion: z.number().int(),
  applications: z.array(
    z.object({
      id: z.uuid(),
      name: z.string(),
      description: z.string(),
      apis: z.array(z.object({ id: z.uuid(), name: z.string(), targetUrl: z.string(), credentials: CredentialsBody.optional() })),
      events: z.array(z.object({ id: z.uuid(), name: z.string() })),
    }),
  ),
  ...TrustFields,
});

/** The longest a configuration request is held for `Prefer: wait`; a longer wait is held this long. */
export const MAX_WAIT_SECONDS = 60;

/**
 * The seconds of the first `wait` preference (RFC 7240) in a Prefer header, at most {@link MAX_WAIT_SECONDS};
 * 0 without one, or when its value is not a whole number of seconds (an invalid preference is ignored).
 */
export function preferredWait(prefer: string | undefined): number {
  for (const preference of prefer?.split(',') ?? []) {
    const [name, ...value] = preference.split(';')[0]!.split('=');
    if (name!.trim().toLowerCase() !== 'wait') continue;
    const seconds = value.join('=').trim().replace(/^"(.*)"$/, '$1');
    return /^\d+$/.test(seconds) ? Math.min(Number(seconds), MAX_WAIT_SECONDS) : 0;
  }
  return 0;
}

const ConfigurationRequestHeaders = z.object({
  'if-none-match': z.string().optional().describe('The ETag of the configuration the caller has: answered 304 while it is still current'),
  prefer: z
    .string()
    .optional()
    .transform(preferredWait)
    .describe(
      `RFC 7240 \`wait=<seconds>\`: with an If-None-Match that is still current, the answer waits until the configuration changes (200) ` +
        `or the wait ends (304), at most ${MAX_WAIT_SECONDS} s; other preferences and invalid values are ignored`,
    ),
});

const CONFIGURATION_HEADERS = {
  ETag: 'The configVersion, quoted',
  'Preference-Applied': '`wait=<seconds>` when the answer waited for a change (`Prefer: wait`)',
};

/** Aborts when the client hangs up (or the answer has been sent). */
function hangUp(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  return controller.signal;
}

export interface OwnRuntimeRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  keyring: Keyring;
  /** Configuration requests held for `Prefer: wait`, woken by the configuration hint listener. */
  waiters: ConfigWaiters;
  lastSeen: LastSeen;
  authorities: AuthorityWatch;
  /** The management plane's task queue, where liveness announcements run. */
  taskQueue: string;
  logger: Logger;
}

/** The applications a runtime sees, each of its APIs with the credentials set for this runtime, and only those, decrypted for it alone. */
async function configurationOf(deps: OwnRuntimeRouteDeps, tenantId: string, runtimeId: string) {
  const applications = await runtimeConfiguration(deps.pool, tenantId, runtimeId);
  const sealed = await credentialsOfRuntime(deps.pool, runtimeId);
  const withCredentials = (api: ConfiguredApplication['apis'][number]) => {
    const secret = sealed.get(api.id);
    return secret ? { ...api, credentials: JSON.parse(open(deps.keyring, secret)) as unknown } : api;
  };
  return applications.map((application) => ({ ...application, apis: application.apis.map(withCredentials) }));
}

/**
 * The runtime called while UNREACHABLE: CONNECTED again, applications told (`runtime.reachable`). A
 * failure is logged, not answered: the call itself succeeded, and the next one (or the reconciler's
 * round, for an announcement) tries again.
 */
async function calledBack(deps: OwnRuntimeRouteDeps, runtimeId: string): Promise<void> {
  await runtimeCalled(deps, runtimeId).catch((error: Error) => deps.logger.warn({ runtimeId, err: error.message }, 'runtime called back: not marked CONNECTED or not announced yet'));
}

/** `GET /v1/runtime`, its configuration and `PUT /v1/runtime/status` (mTLS, runtime certificates). */
export function ownRuntimeRoutes(deps: OwnRuntimeRouteDeps): Route[] {
  const { pool, temporal, waiters, lastSeen } = deps;
  return [
    route({
      method: 'get',
      path: '/v1/runtime',
      operationId: 'get-own-runtime',
      summary: 'The calling runtime (mTLS)',
      tag: 'runtime',
      auth: 'runtime',
      responses: { 200: { description: 'The caller', schema: Runtime } },
      handle: async ({ req }) => ({ status: 200, body: toRuntime(await callerRow(pool, 'runtime', req)) }),
    }),
    route({
      method: 'get',
      path: '/v1/runtime/configuration',
      operationId: 'get-runtime-configuration',
      summary:
        'Applications sharing a scenario with the caller, their APIs and events; ETag is the configVersion (If-None-Match → 304; ' +
        'with Prefer: wait=<seconds>, answered once it changes or the wait ends); a call from an UNREACHABLE runtime makes it CONNECTED again',
      tag: 'runtime',
      auth: 'runtime',
      headers: ConfigurationRequestHeaders,
      responses: {
        200: { description: 'The configuration', schema: RuntimeConfiguration, headers: CONFIGURATION_HEADERS },
        304: { description: 'Unchanged since the ETag (and during the wait, with Prefer: wait)', headers: CONFIGURATION_HEADERS },
      },
      handle: async ({ headers, req, res }) => {
        const { tenantId, id } = req.client!;
        lastSeen.seen(id);
        const wait = headers.prefer;
        // Registered before the version is read: a change committed in between still ends the wait.
        const watch = wait > 0 && headers['if-none-match'] !== undefined ? waiters.watch(id) : undefined;
        try {
          let tag = await configurationTag(pool, 'runtime', req);
          if (tag.condition === 'UNREACHABLE') await calledBack(deps, id);
          let applied = {};
          if (tag.unchanged && watch) {
            const gone = hangUp(res);
            await watch.wait(wait * 1000, gone);
            if (gone.aborted) return undefined;
            tag = await configurationTag(pool, 'runtime', req);
            applied = { 'preference-applied': `wait=${wait}` };
          }
          const { version, etag, unchanged } = tag;
          if (unchanged) return { status: 304, headers: { etag, ...applied } };
          return { status: 200, headers: { etag, ...applied }, body: { runtimeId: id, configVersion: version, applications: await configurationOf(deps, tenantId, id), ...trustOf(deps.authorities) } };
        } finally {
          watch?.cancel();
          // A held request is a runtime alive for as long as it waited.
          if (watch) lastSeen.seen(id);
        }
      },
    }),
    route({
      method: 'put',
      path: '/v1/runtime/status',
      operationId: 'report-runtime-status',
      summary:
        'The agent reports CONNECTED and its eventUrl; the first report makes the runtime ready, one from an UNREACHABLE runtime makes it CONNECTED again, ' +
        'and one after a recovery (a new certificate from a re-injected token) ends that recovery',
      tag: 'runtime',
      auth: 'runtime',
      body: z.strictObject({ condition: z.literal('CONNECTED', { error: 'must be CONNECTED' }), eventUrl: HttpUrl, gatewayUrl: HttpUrl.optional() }),
      responses: { 200: { description: 'The runtime', schema: Runtime } },
      handle: async ({ req, body }) => {
        const { tenantId, id } = req.client!;
        lastSeen.seen(id);
        await calledBack(deps, id);
        if (!(await reportConnected(pool, tenantId, id, body.eventUrl))) throw notFound('the runtime no longer exists');
        await temporal.workflow
          .getHandle(workflowId.provisioning(id))
          .signal(agentConnected, { eventUrl: body.eventUrl })
          .catch((error: unknown) => {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          });
        // A recovery in progress looks at once (it also looks every minute: a lost signal only delays it).
        const recovery = await recoveryInProgress(pool, id);
        if (recovery) {
          await temporal.workflow
            .getHandle(recovery)
            .signal(runtimeReconnected)
            .catch((error: unknown) => deps.logger.warn({ runtimeId: id, err: (error as Error).message }, 'recovery not told of the CONNECTED report; it looks within a minute'));
        }
        return { status: 200, body: toRuntime((await getRow(pool, 'runtime', tenantId, id))!) };
      },
    }),
  ];
}
