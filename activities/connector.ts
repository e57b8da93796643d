import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import { markPairing, restoreAfterPairing, setApplicationCondition } from '../db/applications.js';
import { certificateIssuedFor, recordCertificate } from '../db/certificates.js';
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
  subjectFields,
  subjectToString,
  type Ca,
  type CertificateBundle,
} from '../trust/ca.js';
import type { ConnectorConfig } from '../lib/config.js';

export interface ConnectorDeps {
  pool: pg.Pool;
  ca: Ca;
  connector: ConnectorConfig;
}

export interface IssueCertificateInput {
  tenantId: string;
  objectKind: ObjectKind;
  objectId: string;
  /** PEM or base64 of PEM; public data. */
  csr: string;
  /** One certificate per key: a re-run of the same request answers with the certificate issued first. */
  issuanceKey?: string;
}

export type { CertificateBundle };

/** Activities of the Connector: certificate issuance and the application side of pairing. */
export function createConnectorActivities({ pool, ca, connector }: ConnectorDeps) {
  return {
    /** Verifies the CSR against the announced subject, signs it with the CA and records the certificate. */
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
      const earlier = key && (await certificateIssuedFor(pool, key));
      if (earlier) return bundleOf(ca, earlier);
      const cert = issue(ca, { publicKey: csr.publicKey!, subject: subjectFields(subject), validityDays: connector.validityDays, usage: 'client' });
      const owner = { tenantId: input.tenantId, objectKind: input.objectKind, objectId: input.objectId, subject: subjectToString(subject) };
      if (await recordCertificate(pool, owner, cert, key)) return bundleOf(ca, cert);
      // A concurrent run of the same request recorded its certificate first: that one is the answer.
      return bundleOf(ca, (await certificateIssuedFor(pool, key!))!);
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
