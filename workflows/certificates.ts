// Issues one certificate for an already authenticated CSR (renewals): a durable, auditable record
// in the Temporal UI of who received which certificate.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { CertificateBundle, ConnectorActivities, IssueCertificateInput } from '../activities/connector.js';

const { issueCertificate } = proxyActivities<ConnectorActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5, nonRetryableErrorTypes: ['CsrInvalid'] },
});

/** Without an `issuanceKey` of the request's own, the workflow id names it: a retried activity issues once. */
export async function certificateIssuance(input: IssueCertificateInput): Promise<CertificateBundle> {
  return issueCertificate({ issuanceKey: `workflow:${workflowInfo().workflowId}`, ...input });
}
