// CA rotation without downtime (docs/architecture.md, flow 8): prepare → activate → retire, one workflow
// `ca-rotation:<id>` per rotation, its record in ca_rotations.
//
// - prepare: a new CA, trusted by every API replica at its next read of the authorities (within a second);
//   then every runtime and application is told (configVersion bumped, `configuration.changed` to webhooks):
//   their configuration's `trustBundle` holds the old and the new CA.
// - activate: the new CA signs every certificate from now on; holders are told again, and renew because the
//   configuration's `issuingCa` did not sign their certificate (agents at their next poll, applications
//   over mTLS). The workflow counts renewed / remaining holders.
// - retire: once no working certificate depends on the old CA (a renewed one works until the renewal overlap
//   ends) — at once, or with manual retirement on `meridian ca retire` or once every certificate the old CA
//   signed has expired — the old CA leaves the bundle and the mTLS listener's own certificate comes from the
//   new CA.
// The server certificate stays with the old CA until retirement: a holder that never fetched the new
// bundle still verifies the listener, and every holder that renewed received the bundle with its certificate.
import { allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { CaRotationActivities, RotationCas } from '../activities/ca-rotation.js';
import type { RotationProgress } from '../db/authorities.js';

export interface CaRotationInput {
  rotationId: string;
  /** 'auto': retire as soon as nothing live depends on the old CA; 'manual': on the `retire` signal. */
  retire: 'auto' | 'manual';
  /** Between a change of the authorities and telling holders about it: every API replica re-reads them meanwhile. @default 3 */
  propagationSeconds?: number;
  /** Between two counts of renewed and remaining holders. @default 10 */
  checkSeconds?: number;
  /** Carried across continue-as-new once activated. */
  activated?: { cas: RotationCas; at: number };
  /** A `retire` signal that arrived while the previous run was closing. */
  retireRequested?: boolean;
}

export interface CaRotationStatus {
  stage: 'PREPARING' | 'PREPARED' | 'ACTIVATED' | 'RETIRED';
  cas?: RotationCas;
  progress?: RotationProgress;
  message?: string;
}

/** Asks to retire the old CA now; refused (and recorded on the rotation) while a live certificate depends on it. */
export const retireOldCa = defineSignal('retire');
export const caRotationStatus = defineQuery<CaRotationStatus>('status');

const acts = proxyActivities<CaRotationActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
/** Starts a notification per application with a webhook: heartbeats after each, so a long one is not timed out. */
const { announceTrustChange } = proxyActivities<CaRotationActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function caRotation(input: CaRotationInput): Promise<CaRotationStatus> {
  const status: CaRotationStatus = { stage: input.activated ? 'ACTIVATED' : 'PREPARING', cas: input.activated?.cas };
  let retireRequested = input.retireRequested ?? false;
  setHandler(retireOldCa, () => void (retireRequested = true));
  setHandler(caRotationStatus, () => status);
  const propagation = (input.propagationSeconds ?? 3) * 1000;
  const { rotationId } = input;

  let activated = input.activated;
  if (!activated) {
    const cas = await acts.prepareCa({ rotationId });
    status.cas = cas;
    status.stage = 'PREPARED';
    await sleep(propagation);
    await announceTrustChange({ rotationId, phase: 'PREPARED' });

    await acts.activateCa({ rotationId, newCa: cas.newCa });
    activated = { cas, at: Date.now() };
    status.stage = 'ACTIVATED';
    await sleep(propagation);
    await announceTrustChange({ rotationId, phase: 'ACTIVATED' });
  }

  for (;;) {
    const progress = await acts.checkRotation({ rotationId, ...activated.cas });
    status.progress = { renewed: progress.renewed, remaining: progress.remaining };
    // Nothing working depends on the old CA; manual retirement waits for the operator, or until every
    // certificate the old CA signed has expired (revoked ones included).
    if (progress.remaining === 0 && (input.retire === 'auto' || retireRequested || progress.lastExpiry === null)) break;
    if (retireRequested) {
      retireRequested = false;
      status.message = `retirement refused: ${progress.remaining} holder(s) still hold a live certificate of the old CA`;
      await acts.noteRotation({ rotationId, message: status.message });
    }
    await condition(() => retireRequested, (input.checkSeconds ?? 10) * 1000);
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof caRotation>({ ...input, activated, retireRequested });
    }
  }

  await acts.retireCa({ rotationId, oldCa: activated.cas.oldCa });
  status.stage = 'RETIRED';
  status.message = undefined;
  await sleep(propagation);
  await announceTrustChange({ rotationId, phase: 'RETIRED' });
  return status;
}
