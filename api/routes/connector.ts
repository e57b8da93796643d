// The Connector (docs/api.md): pairing tokens, signing requests and certificates for applications and
// runtimes, and the renewal and revocation of a certificate by its holder.
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { z } from 'zod';
import { lockApplication } from '../../db/applications.js';
import { authoriseCertificateRequest, certificateIssuedFor, revokeCertificate, type CertificateRequest } from '../../db/certificates.js';
import { insertOperation, pairingInProgress, supersedePairings } from '../../db/operations.js';
import { invalidateTokens, issueToken, peekToken, redeemToken } from '../../db/tokens.js';
import { withTransaction, type Db } from '../../db/tx.js';
import { RENEWAL_OVERLAP_SECONDS, type IssueCertificateInput } from '../../activities/connector.js';
import type { ConnectorConfig } from '../../lib/config.js';
import {
  CsrInvalid,
  assertSubject,
  bundleOf,
  certifiesKeyOf,
  clientSubject,
  parseCsr,
  publicKeySha256,
  subjectToString,
  type CertificateBundle,
  type Subject,
} from '../../trust/ca.js';
import { issuanceKeyOf, renewalIssuanceKey } from '../../trust/tokens.js';
import { pairingStart, startFlow } from '../../services/workflow-starts.js';
import { certificateIssuance } from '../../workflows/certificates.js';
import { workflowId } from '../../workflows/ids.js';
import { PairingStage, signingRequested, submitCsr } from '../../workflows/pairing.js';
import { tenantOf } from '../auth.js';
import type { RevocationList } from '../mtls.js';
import type { AuthorityWatch } from '../../trust/authorities.js';
import { HttpProblem, badRequest, conflict, notFound, unauthorized } from '../problems.js';
import { route, type Route } from '../route.js';
import { startRecorded } from '../starts.js';
import { IdParams, refusals } from '../schemas.js';

export interface ConnectorRouteDeps {
  pool: pg.Pool;
  temporal: Client;
  taskQueue: string;
  connector: ConnectorConfig;
  /** The trust bundle of certificates answered again (trust/authorities.ts). */
  authorities: AuthorityWatch;
  revocations: RevocationList;
  /** Base URLs as clients reach them (known once the listeners are bound). */
  urls: () => { public: string; mtls: string };
}

const invalidToken = () => unauthorized('invalid or expired token');
const connectorToken = (header: string | undefined) => {
  if (!header || !/^[\w-]{20,128}$/.test(header)) throw invalidToken();
  return header;
};

const CsrBody = z.strictObject({
  csr: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .meta({ description: 'PEM PKCS#10 request for the exact subject given, RSA 2048' })
    .register(refusals, { status: 400, description: 'A CSR that does not parse, or whose subject or key is not the one required' }),
});

const Bundle = z.object({ clientCertificate: z.string(), caCertificate: z.string(), certificateChain: z.string() });
const toBundle = (b: CertificateBundle) => ({ clientCertificate: b.clientCertificate, caCertificate: b.caCertificate, certificateChain: b.certificateChain });

/** The exact subject a certificate of this application or runtime carries. */
const subjectOf = (connector: ConnectorConfig, kind: 'application' | 'runtime', id: string, tenantId: string): Subject =>
  clientSubject(kind, id, tenantId, connector.subjectExtras);

/** A CSR that fails its checks is a 400 naming the problem, before any token is used up. */
function checkCsr(csr: string, subject: Subject) {
  try {
    const parsed = parseCsr(csr);
    assertSubject(parsed, subject);
    return parsed;
  } catch (error) {
    if (error instanceof CsrInvalid) throw badRequest(error.message, [{ path: 'csr', message: error.message.replace(/^csr: /, '') }]);
    throw error;
  }
}

/**
 * How long a recorded certificate request authorises its issuance: 15 minutes, extended by every retry
 * of the request (the activity may run after a request deadline's 503, when the retry joins it).
 */
const CERTIFICATE_REQUEST_TTL_SECONDS = 900;

/** The application failure behind a failed workflow, update or activity, if any. */
function applicationFailureOf(error: unknown): ApplicationFailure | undefined {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause instanceof ApplicationFailure) return cause;
  }
  return undefined;
}

/** Pairing refusals (its update's validator) and issuance refusals a token holder sees as a bad token. */
const TOKEN_REFUSALS = new Set(['Superseded', 'AlreadyIssued', 'Expired', 'NotAuthorized']);

/** Failures of a workflow the API waited on for a token holder, in HTTP terms. */
function workflowProblem(error: unknown): never {
  if (error instanceof WorkflowNotFoundError) throw invalidToken();
  const failure = (error instanceof WorkflowUpdateFailedError || error instanceof WorkflowFailedError) && applicationFailureOf(error);
  if (failure && failure.type === 'CsrInvalid') throw badRequest(failure.message, [{ path: 'csr', message: failure.message }]);
  if (failure && TOKEN_REFUSALS.has(failure.type ?? '')) throw invalidToken();
  throw error;
}

/** Failures of a renewal's issuance, in HTTP terms. */
function renewalProblem(error: unknown): never {
  const failure = error instanceof WorkflowFailedError && applicationFailureOf(error);
  if (failure && failure.type === 'CsrInvalid') throw badRequest(failure.message, [{ path: 'csr', message: failure.message }]);
  if (failure && failure.type === 'NotAuthorized') throw new HttpProblem(403, 'Forbidden', failure.message);
  if (failure && failure.type === 'CertificateLimitReached') throw conflict(failure.message);
  throw error;
}

/**
 * Records what the issuance activity may sign for this request, committed before Temporal is asked.
 * Refused (401) when the request's key already authorises another key pair.
 */
async function authorise(pool: pg.Pool, request: CertificateRequest): Promise<void> {
  if (!(await authoriseCertificateRequest(pool, request, CERTIFICATE_REQUEST_TTL_SECONDS))) throw invalidToken();
}

/**
 * Sends the CSR to the application's pairing workflow and answers with the certificate. A pairing whose
 * start was lost (Temporal was unavailable when it was requested: its operation is in progress but no
 * run of it exists, or the run there is an earlier request's) is started here, as the reconciler
 * would, rather than refusing a good token.
 */
async function submitToPairing(
  deps: ConnectorRouteDeps,
  db: Db,
  { tenantId, objectId: applicationId, csr, issuanceKey }: IssueCertificateInput,
): Promise<CertificateBundle> {
  const operation = await pairingInProgress(db, applicationId);
  // The update id is the issuance key: a retry while the first attempt is still running joins it.
  const submit = () =>
    deps.temporal.workflow
      .getHandle(workflowId.pairing(applicationId))
      .executeUpdate(submitCsr, { updateId: issuanceKey, args: [{ csr, issuanceKey, ...(operation && { operationId: operation.id }) }] });
  try {
    return await submit();
  } catch (error) {
    const lost = error instanceof WorkflowNotFoundError;
    const superseded = error instanceof WorkflowUpdateFailedError && applicationFailureOf(error)?.type === 'Superseded';
    if (!operation || !(lost || superseded)) return workflowProblem(error);
    const start = pairingStart({ taskQueue: deps.taskQueue, tenantId, applicationId, operationId: operation.id, connector: deps.connector });
    // A lost start: only if nobody started it meanwhile. A superseded run: replaced (the flow's own policy).
    await startFlow(deps.temporal, start, lost ? { workflowIdConflictPolicy: 'FAIL' } : {}).catch((startError: unknown) => {
      if (!(startError instanceof WorkflowExecutionAlreadyStartedError)) throw startError;
    });
    return submit().catch(workflowProblem);
  }
}

/** Pairing, signing requests and certificates: an admin's pairing request, then the token holder's calls. */
export function connectorRoutes(deps: ConnectorRouteDeps): Route[] {
  const { pool, temporal, connector } = deps;
  return [
    route({
      method: 'post',
      path: '/v1/applications/{id}/pairing',
      operationId: 'pair-application',
      summary: 'Issue a one-time pairing token and start the pairing workflow; a new request supersedes an unused token',
      tag: 'connector',
      auth: 'admin',
      params: IdParams,
      responses: {
        201: {
          description: 'The one-time token (shown only here)',
          schema: z.object({ token: z.string(), expiresAt: z.iso.datetime(), connectorUrl: z.string(), operationId: z.uuid() }),
        },
      },
      handle: async ({ req, params }) => {
        const tenantId = tenantOf(req);
        const pairingId = workflowId.pairing(params.id);
        const { token, expiresAt, operation } = await withTransaction(pool, async (client) => {
          if (!(await lockApplication(client, tenantId, params.id))) throw notFound('no such application');
          await invalidateTokens(client, params.id);
          await supersedePairings(client, params.id);
          const op = await insertOperation(client, { tenantId, type: 'PAIRING', resourceId: params.id, stage: PairingStage.MARKING_PAIRING, workflowId: pairingId });
          const issued = await issueToken(client, { tenantId, objectKind: 'application', objectId: params.id, purpose: 'application' }, connector.ttl.application);
          return { ...issued, operation: op };
        });
        // Temporal unavailable: the token is good, and the reconciler starts the pairing (within a minute or so).
        await startRecorded(temporal, pairingStart({ taskQueue: deps.taskQueue, tenantId, applicationId: params.id, operationId: operation.id, connector }), req.log);
        return {
          status: 201,
          body: { token, expiresAt: expiresAt.toISOString(), connectorUrl: `${deps.urls().public}/connector/v1/signing-request`, operationId: operation.id },
        };
      },
    }),
    route({
      method: 'get',
      path: '/connector/v1/signing-request',
      operationId: 'signing-request',
      summary: 'Exchange a pairing token for a CSR token and the exact subject to request',
      tag: 'connector',
      auth: 'connector',
      audited: true,
      responses: {
        200: {
          description: 'What to put in the CSR, and where to send it',
          schema: z.object({
            csrToken: z.string(),
            csrTokenExpiresAt: z.iso.datetime(),
            subject: z.string(),
            keyAlgorithm: z.literal('rsa2048'),
            certificateUrl: z.string(),
            mtlsBaseUrl: z.string(),
          }),
        },
      },
      handle: async ({ req }) => {
        const token = connectorToken(req.get('connector-token'));
        // The token is used up only together with the CSR token it is exchanged for.
        const { grant, csr } = await withTransaction(pool, async (client) => {
          const redeemed = await redeemToken(client, token, ['application', 'runtime']);
          if (!redeemed) throw invalidToken();
          req.tokenHolder = { tenantId: redeemed.tenantId, kind: redeemed.objectKind, id: redeemed.objectId };
          return { grant: redeemed, csr: await issueToken(client, { ...redeemed, purpose: 'csr' }, connector.ttl.csr) };
        });
        if (grant.objectKind === 'application') {
          await temporal.workflow
            .getHandle(workflowId.pairing(grant.objectId))
            .signal(signingRequested)
            .catch((error: Error) => req.log.warn({ err: error.message }, 'pairing workflow not signalled'));
        }
        const urls = deps.urls();
        return {
          status: 200,
          body: {
            csrToken: csr.token,
            csrTokenExpiresAt: csr.expiresAt.toISOString(),
            subject: subjectToString(subjectOf(connector, grant.objectKind, grant.objectId, grant.tenantId)),
            keyAlgorithm: 'rsa2048',
            certificateUrl: `${urls.public}/connector/v1/certificates`,
            mtlsBaseUrl: urls.mtls,
          },
        };
      },
    }),
    route({
      method: 'post',
      path: '/connector/v1/certificates',
      operationId: 'sign-certificate',
      summary: 'Exchange a CSR token and a CSR for a client certificate signed by the Meridian CA',
      tag: 'connector',
      auth: 'connector',
      body: CsrBody,
      responses: { 201: { description: 'Client certificate, CA certificate and the chain (client first), PEM', schema: Bundle } },
      handle: async ({ req, body }) => {
        const token = connectorToken(req.get('connector-token'));
        const grant = await peekToken(pool, token, ['csr']);
        if (!grant) throw invalidToken();
        req.tokenHolder = { tenantId: grant.tenantId, kind: grant.objectKind, id: grant.objectId };
        const csr = checkCsr(body.csr, subjectOf(connector, grant.objectKind, grant.objectId, grant.tenantId));
        const issuanceKey = issuanceKeyOf(token);
        const holder = { tenantId: grant.tenantId, objectKind: grant.objectKind, objectId: grant.objectId };
        // The token authorises one key pair: its first request's. The issuance activity signs only what this names.
        await authorise(pool, { ...holder, issuanceKey, publicKeySha256: publicKeySha256(csr) });
        const request = { ...holder, csr: body.csr, issuanceKey };
        // The token is used up only together with the certificate: the redemption commits after Temporal
        // answered with it, and rolls back when Temporal fails (unavailable → 503; the token still works).
        // Its row lock holds concurrent redemptions until then: exactly one of them wins. When the commit
        // itself failed after the certificate was issued, the retry finds that certificate under the
        // token's issuance key and answers with it (for the same key pair only).
        const bundle = await withTransaction(pool, async (client) => {
          if (!(await redeemToken(client, token, ['csr']))) throw invalidToken();
          const earlier = await certificateIssuedFor(client, issuanceKey);
          const issued = earlier
            ? bundleOf(deps.authorities.current().bundle, earlier)
            : grant.objectKind === 'application'
              ? await submitToPairing(deps, client, request)
              : await temporal.workflow
                  .execute(certificateIssuance, {
                    workflowId: workflowId.certificate(grant.objectId, issuanceKey),
                    workflowIdConflictPolicy: 'USE_EXISTING',
                    taskQueue: deps.taskQueue,
                    args: [request],
                  })
                  .catch(workflowProblem);
          // The token's certificate is for the key pair of its first request: a retry with another is refused.
          if (!certifiesKeyOf(issued.clientCertificate, csr)) throw invalidToken();
          return issued;
        });
        return { status: 201, body: toBundle(bundle) };
      },
    }),
  ];
}

/** Renewal and revocation of the calling certificate (mTLS, either kind). */
export function certificateRoutes(deps: ConnectorRouteDeps): Route[] {
  const { pool, temporal, connector } = deps;
  return [
    route({
      method: 'post',
      path: '/connector/v1/certificates/renewals',
      operationId: 'renew-certificate',
      summary: `A new certificate for the same subject (mTLS); the calling one is revoked ${RENEWAL_OVERLAP_SECONDS / 60} minutes later`,
      tag: 'connector',
      auth: 'client',
      body: CsrBody,
      responses: { 201: { description: 'The new certificate and chain', schema: Bundle } },
      handle: async ({ req, body }) => {
        const caller = req.client!;
        const csr = checkCsr(body.csr, subjectOf(connector, caller.kind, caller.id, caller.tenantId));
        const holder = { tenantId: caller.tenantId, objectKind: caller.kind, objectId: caller.id };
        const keySha256 = publicKeySha256(csr);
        const issuanceKey = renewalIssuanceKey(caller.serial, keySha256);
        // A retried renewal (its answer lost) answers the certificate issued first.
        const earlier = await certificateIssuedFor(pool, issuanceKey);
        if (earlier) return { status: 201, body: toBundle(bundleOf(deps.authorities.current().bundle, earlier)) };
        await authorise(pool, { ...holder, issuanceKey, publicKeySha256: keySha256, renewsSerial: caller.serial });
        const bundle = await temporal.workflow
          .execute(certificateIssuance, {
            workflowId: workflowId.certificate(caller.id, issuanceKey),
            workflowIdConflictPolicy: 'USE_EXISTING',
            taskQueue: deps.taskQueue,
            args: [{ ...holder, csr: body.csr, issuanceKey }],
          })
          .catch(renewalProblem);
        return { status: 201, body: toBundle(bundle) };
      },
    }),
    route({
      method: 'post',
      path: '/connector/v1/certificates/revocations',
      operationId: 'revoke-certificate',
      summary: 'Revoke the calling certificate (mTLS); it cannot be used again, not even to renew',
      tag: 'connector',
      auth: 'client',
      responses: { 204: { description: 'Revoked' } },
      handle: async ({ req }) => {
        const caller = req.client!;
        if (!(await revokeCertificate(pool, caller.tenantId, caller.serial, 'revoked by its holder'))) throw conflict('the certificate is not live');
        deps.revocations.add(caller.serial);
        return { status: 204 };
      },
    }),
  ];
}
