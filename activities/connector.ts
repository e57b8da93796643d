import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import { markPairing, restoreAfterPairing, setApplicationCondition } from '../db/applications.js';
import {
  authorisedRequest,
  certificateHolderExists,
  certificateInForce,
  certificateIssuedFor,
  liveCertificateCount,
  recordCertificate,
  revokeCertificatesOf,
  scheduleRevocation,
} from '../db/certificates.js';
import type { ObjectKind } from '../db/objects.js';
import { setOperation } from '../db/operations.js';
import { invalidateTokens } from '../db/tokens.js';
import { withTransaction } from '../db/tx.js';
import {
  CsrInvalid,
  assertSubject,
  bundleOf,
  clientSubject,
  issue,
  parseCsr,
  publicKeySha256,
  subjectFields,
  subjectToString,
  type Ca,
  type CertificateBundle,
} from '../trust/ca.js';
import type { ConnectorConfig } from '../lib/config.js';
import { readAuthorities } from '../trust/authorities.js';
import type { Keyring } from '../trust/encryption.js';

export interface ConnectorDeps {
  pool: pg.Pool;
  /** The CA of the files: the one CA until a rotation records others in PostgreSQL (trust/authorities.ts). */
  ca: Ca;
  /** Opens the keys of rotated CAs. */
  keyring: Keyring;
  connector: ConnectorConfig;
}

export interface IssueCertificateInput {
  tenantId: string;
  objectKind: ObjectKind;
  objectId: string;
  /** PEM or base64 of PEM; public data. */
  csr: string;
  /**
   * Names the request the API recorded (`certificate_requests`) before it asked for the certificate;
   * without a live record for this exact request nothing is signed. One certificate per key: a re-run
   * of the same request answers with the certificate issued first. Checked at run time too: whoever
   * can reach the task queue may send anything.
   */
  issuanceKey: string;
}

export type { CertificateBundle };

/** Live certificates (neither revoked nor scheduled for revocation, unexpired) one application or runtime may hold; a renewal beyond it is refused. */
export const MAX_LIVE_CERTIFICATES = 5;
/** How long the certificate a renewal replaced keeps working by default, so that calls in flight finish: 10 minutes (MERIDIAN_RENEWAL_OVERLAP_SECONDS). */
export const RENEWAL_OVERLAP_SECONDS = 600;
/** Revocation reasons of issuance. */
export const REPLACED_BY_RENEWAL = 'replaced by a renewal';
export const SUPERSEDED_BY_PAIRING = 'superseded by a new pairing';

/** Thrown by `issueCertificate` when no request recorded by the API authorises this exact issuance. */
const notAuthorized = (why: string) => ApplicationFailure.nonRetryable(`the certificate request is not authorised: ${why}`, 'NotAuthorized');

/** Activities of the Connector: certificate issuance and the application side of pairing. */
export function createConnectorActivities({ pool, ca, keyring, connector }: ConnectorDeps) {
  return {
    /**
     * Signs a CSR with the CA and records the certificate, after re-checking everything it is told against
     * PostgreSQL: the request recorded under the issuance key names this tenant, object and public key and
     * has not expired; the object still exists; a renewal's calling certificate is still in force and the
     * object stays within {@link MAX_LIVE_CERTIFICATES}. A renewal schedules the revocation of the calling
     * certificate {@link RENEWAL_OVERLAP_SECONDS} on; a token exchange (pairing) revokes the object's earlier
     * certificates. Refusals are non-retryable: `CsrInvalid`, `NotAuthorized`, `CertificateLimitReached`.
     */
    async issueCertificate(input: IssueCertificateInput): Promise<CertificateBundle> {
      const subject = clientSubject(input.objectKind, input.objectId, input.tenantId, connector.subjectExtras);
      let csr;
      try {
        csr = parseCsr(input.csr);
        assertSubject(csr, subject);
      } catch (error) {
        if (error instanceof CsrInvalid) throw ApplicationFailure.nonRetryable(error.message, 'CsrInvalid');
        throw error;
      }
      const key = input.issuanceKey;
      if (!key) throw notAuthorized('it names no recorded request');
      const holder = { tenantId: input.tenantId, objectKind: input.objectKind, objectId: input.objectId };
      return withTransaction(pool, async (client) => {
        // Read in the transaction: a certificate is signed by the CA that is ACTIVE when it is recorded.
        const authorities = await readAuthorities(client, ca, keyring);
        const request = await authorisedRequest(client, key);
        if (!request) throw notAuthorized('no live request is recorded under its issuance key');
        if (request.tenantId !== holder.tenantId || request.objectKind !== holder.objectKind || request.objectId !== holder.objectId) {
          throw notAuthorized(`the request was recorded for another ${request.objectKind === holder.objectKind ? request.objectKind : 'object'}`);
        }
        if (request.publicKeySha256 !== publicKeySha256(csr)) throw notAuthorized('the request was recorded for another key pair');
        // Locked until the certificate is recorded: not deleted, deprovisioned or given another one meanwhile.
        if (!(await certificateHolderExists(client, holder, true))) throw notAuthorized(`the ${holder.objectKind} no longer exists`);
        const earlier = await certificateIssuedFor(client, key);
        if (earlier) return bundleOf(authorities.bundle, earlier);
        if (request.renewsSerial) {
          if (!(await certificateInForce(client, holder, request.renewsSerial))) throw notAuthorized('the certificate it renews is revoked or expired');
          const live = await liveCertificateCount(client, holder.objectId, request.renewsSerial);
          if (live >= MAX_LIVE_CERTIFICATES) {
            throw ApplicationFailure.nonRetryable(
              `the ${holder.objectKind} holds ${live} live certificates besides the calling one, the most allowed (${MAX_LIVE_CERTIFICATES}): revoke one first`,
              'CertificateLimitReached',
            );
          }
        }
        const cert = issue(authorities.active, { publicKey: csr.publicKey!, subject: subjectFields(subject), validityDays: connector.validityDays, usage: 'client' });
        const owner = { ...holder, subject: subjectToString(subject), issuer: authorities.active.fingerprint };
        if (!(await recordCertificate(client, owner, cert, key))) {
          // A concurrent run of the same request recorded its certificate first: that one is the answer.
          return bundleOf(authorities.bundle, (await certificateIssuedFor(client, key))!);
        }
        if (request.renewsSerial) await scheduleRevocation(client, request.renewsSerial, connector.renewalOverlapSeconds, REPLACED_BY_RENEWAL);
        else await revokeCertificatesOf(client, holder.objectId, SUPERSEDED_BY_PAIRING, cert.serial);
        return bundleOf(authorities.bundle, cert);
      });
    },

    /** Marks the application PAIRING and returns the condition it had, to restore on expiry. */
    async beginPairing({ applicationId, operationId }: { applicationId: string; operationId: string }): Promise<{ previousCondition: string }> {
      const previous = await markPairing(pool, applicationId);
      if (previous === undefined) {
        await setOperation(pool, operationId, 'FAILED', 'FAILED', 'the application no longer exists');
        throw ApplicationFailure.nonRetryable('the application no longer exists', 'NotFound');
      }
      return { previousCondition: previous === 'PAIRING' ? 'INITIAL' : previous };
    },

    async recordStage({ operationId, stage }: { operationId: string; stage: string }): Promise<void> {
      await setOperation(pool, operationId, stage);
    },

    async completePairing({ applicationId, operationId }: { applicationId: string; operationId: string }): Promise<void> {
      await withTransaction(pool, async (client) => {
        await setApplicationCondition(client, applicationId, 'CONNECTED');
        await setOperation(client, operationId, 'CONNECTED', 'SUCCEEDED');
      });
    },

    /** The pairing timed out: its tokens stop working and the application returns to where it was. */
    async expirePairing(input: { applicationId: string; operationId: string; previousCondition: string }): Promise<void> {
      await withTransaction(pool, async (client) => {
        await invalidateTokens(client, input.applicationId);
        await restoreAfterPairing(client, input.applicationId, input.previousCondition);
        await setOperation(client, input.operationId, 'EXPIRED', 'FAILED', 'the pairing token expired before a certificate was requested');
      });
    },
  };
}

export type ConnectorActivities = ReturnType<typeof createConnectorActivities>;
