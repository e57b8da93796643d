// Application pairing (docs/architecture.md, flow 1): mark PAIRING → wait for the CSR, with a durable timer as
// long as the token lives (the signing request extends it by the CSR token's life) → CONNECTED;
// or, on expiry, invalidate the tokens and return the application to its previous condition.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { CertificateBundle, ConnectorActivities } from '../activities/connector.js';
import { MeridianStage } from './ids.js';

export const PairingStage = {
  MARKING_PAIRING: 'MARKING_PAIRING',
  WAITING_FOR_SIGNING_REQUEST: 'WAITING_FOR_SIGNING_REQUEST',
  WAITING_FOR_CSR: 'WAITING_FOR_CSR',
  ISSUING_CERTIFICATE: 'ISSUING_CERTIFICATE',
  CONNECTED: 'CONNECTED',
  EXPIRED: 'EXPIRED',
} as const;
export type PairingStage = (typeof PairingStage)[keyof typeof PairingStage];

export interface PairingInput {
  tenantId: string;
  applicationId: string;
  operationId: string;
  tokenTtlSeconds: number;
  csrTtlSeconds: number;
}

export interface PairingStatus {
  stage: PairingStage;
  expiresAt: string;
  certificateSerial?: string;
}

export interface PairingResult {
  outcome: 'CONNECTED' | 'EXPIRED';
  certificateSerial?: string;
}

/** The pairing token was exchanged for a CSR token: wait at least that token's lifetime. */
export const signingRequested = defineSignal('signingRequested');
export interface CsrSubmission {
  csr: string;
  /** The application's pairing operation in progress: a run of another operation refuses it, `Superseded`. */
  operationId?: string;
  /** Names the request the API recorded: its certificate is issued once, however often the request is retried or re-run. */
  issuanceKey: string;
}

/** The CSR token was redeemed: sign this CSR and answer with the certificate chain. */
export const submitCsr = defineUpdate<CertificateBundle, [CsrSubmission]>('submitCsr');
export const pairingStatus = defineQuery<PairingStatus>('status');

// Every step is a short PostgreSQL write or a signature of a few milliseconds while a client waits:
// local activities run them in the worker and save two server round trips each.
const acts = proxyLocalActivities<ConnectorActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', nonRetryableErrorTypes: ['CsrInvalid', 'NotFound'] },
});

export async function pairing(input: PairingInput): Promise<PairingResult> {
  let stage: PairingStage = PairingStage.MARKING_PAIRING;
  let deadline = Date.now() + input.tokenTtlSeconds * 1000;
  let issuing = false;
  let bundle: CertificateBundle | undefined;

  const enter = (next: PairingStage) => {
    stage = next;
    upsertSearchAttributes([{ key: MeridianStage, value: next }]);
  };

  setHandler(pairingStatus, () => ({ stage, expiresAt: new Date(deadline).toISOString(), certificateSerial: bundle?.serial }));
  setHandler(signingRequested, () => {
    deadline = Math.max(deadline, Date.now() + input.csrTtlSeconds * 1000);
    if (stage === PairingStage.WAITING_FOR_SIGNING_REQUEST) enter(PairingStage.WAITING_FOR_CSR);
  });
  setHandler(
    submitCsr,
    async ({ csr, issuanceKey }) => {
      issuing = true;
      const previous = stage;
      enter(PairingStage.ISSUING_CERTIFICATE);
      try {
        const issued = await acts.issueCertificate({
          tenantId: input.tenantId,
          objectKind: 'application',
          objectId: input.applicationId,
          csr,
          issuanceKey,
        });
        bundle = issued;
        return issued;
      } catch (error) {
        enter(previous);
        throw error;
      } finally {
        issuing = false;
      }
    },
    {
      validator: (request: CsrSubmission) => {
        if (request.operationId !== undefined && request.operationId !== input.operationId) {
          throw ApplicationFailure.nonRetryable('this pairing run belongs to an earlier pairing request', 'Superseded');
        }
        if (bundle || issuing) throw ApplicationFailure.nonRetryable('a certificate was already issued for this pairing', 'AlreadyIssued');
        if (Date.now() >= deadline) throw ApplicationFailure.nonRetryable('the pairing has expired', 'Expired');
      },
    },
  );

  const { previousCondition } = await acts.beginPairing({ applicationId: input.applicationId, operationId: input.operationId });
  if (stage === PairingStage.MARKING_PAIRING) enter(PairingStage.WAITING_FOR_SIGNING_REQUEST);
  await acts.recordStage({ operationId: input.operationId, stage });

  for (;;) {
    if (bundle) break;
    if (issuing) {
      await condition(() => !issuing);
      continue;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const seen: { deadline: number; stage: PairingStage } = { deadline, stage };
    await condition(() => bundle !== undefined || issuing || deadline !== seen.deadline || stage !== seen.stage, remaining);
    // Not while the certificate is being issued: one local activity at a time keeps the history replayable.
    if (stage !== seen.stage && !bundle && !issuing) await acts.recordStage({ operationId: input.operationId, stage });
  }

  let result: PairingResult;
  if (bundle) {
    enter(PairingStage.CONNECTED);
    await acts.completePairing({ applicationId: input.applicationId, operationId: input.operationId });
    result = { outcome: 'CONNECTED', certificateSerial: bundle.serial };
  } else {
    enter(PairingStage.EXPIRED);
    await acts.expirePairing({ applicationId: input.applicationId, operationId: input.operationId, previousCondition });
    result = { outcome: 'EXPIRED' };
  }
  await condition(allHandlersFinished);
  return result;
}
