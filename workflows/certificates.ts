// Issues one certificate for a request the API recorded (runtime token exchanges, renewals): a durable,
// auditable record in the Temporal UI of who received which certificate.
import { proxyActivities } from '@temporalio/workflow';
import type { CertificateBundle, ConnectorActivities, IssueCertificateInput } from '../activities/connector.js';

const { issueCertificate } = proxyActivities<ConnectorActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['CsrInvalid', 'NotAuthorized', 'CertificateLimitReached'] },
});

/**
 * The request's `issuanceKey` names the authorisation the API recorded: the activity signs nothing
 * without one, and a re-run (a retried activity, a restarted workflow) answers the same certificate.
 */
export async function certificateIssuance(input: IssueCertificateInput): Promise<CertificateBundle> {
  return issueCertificate(input);
}
