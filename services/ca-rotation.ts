// Starting a CA rotation, asking it to retire the old CA, and reading where it stands: what `meridian ca`
// does (operators with access to PostgreSQL and Temporal; the CA belongs to no tenant, so no admin token
// can rotate it). The rotation itself is the workflow `ca-rotation:<id>` (workflows/ca-rotation.ts).
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { allAuthorities, holdersOf, insertRotation, latestRotations, rotationInProgress, rotationProgress, type CaRow, type RotationRow } from '../db/authorities.js';
import { fingerprintOf } from '../trust/ca.js';
import { caRotation, retireOldCa, type CaRotationInput } from '../workflows/ca-rotation.js';
import { workflowId } from '../workflows/ids.js';

/** Thrown when a rotation cannot do what was asked (nothing in progress, the old CA still needed); the message says why. */
export class RotationRefused extends Error {
  override name = 'RotationRefused';
}

export interface RotationDeps {
  pool: pg.Pool;
  temporal: Client;
  /** The management plane's task queue. */
  taskQueue: string;
}

export type RotationOptions = Pick<CaRotationInput, 'retire' | 'propagationSeconds' | 'checkSeconds'> & { requestedBy: string };

/**
 * Starts a rotation, or resumes the one in progress (its workflow started again if a crash or an unreachable
 * Temporal left it without one). Returns the rotation and whether it was already in progress.
 */
export async function startCaRotation(deps: RotationDeps, options: RotationOptions): Promise<{ rotation: RotationRow; resumed: boolean }> {
  let resumed = true;
  let rotation = await rotationInProgress(deps.pool);
  if (!rotation) {
    const id = randomUUID();
    rotation = await insertRotation(deps.pool, { id, retire: options.retire, requestedBy: options.requestedBy, workflowId: workflowId.caRotation(id) });
    resumed = !rotation;
    rotation ??= await rotationInProgress(deps.pool);
    if (!rotation) throw new RotationRefused('a rotation finished while this one was being started: run the command again');
  }
  await deps.temporal.workflow.start(caRotation, {
    workflowId: workflowId.caRotation(rotation.id),
    taskQueue: deps.taskQueue,
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `Rotate Meridian's CA (prepare, activate, retire; retirement ${rotation.retire})`,
    args: [{ rotationId: rotation.id, retire: rotation.retire, propagationSeconds: options.propagationSeconds, checkSeconds: options.checkSeconds }],
  });
  return { rotation, resumed };
}

/**
 * Asks the rotation in progress to retire the old CA now. Refused while the new CA is not active yet, or
 * while a live certificate (of an application or runtime) still depends on the old CA: those renew at
 * their next poll, or expire; the refusal names a few.
 */
export async function requestRetirement(deps: RotationDeps): Promise<RotationRow> {
  const rotation = await rotationInProgress(deps.pool);
  if (!rotation) throw new RotationRefused('no CA rotation is in progress: start one with meridian ca rotate');
  if (rotation.stage !== 'ACTIVATED' || !rotation.oldCa || !rotation.newCa) {
    throw new RotationRefused(`the rotation is ${rotation.stage}: the old CA can be retired once the new one is active`);
  }
  const { remaining } = await rotationProgress(deps.pool, rotation.oldCa, rotation.newCa);
  if (remaining > 0) {
    const named = (await holdersOf(deps.pool, rotation.oldCa, 5)).map((h) => `${h.objectKind} ${h.objectId} (tenant ${h.tenantId})`);
    throw new RotationRefused(
      `${remaining} holder(s) still hold a working certificate of the old CA, e.g. ${named.join(', ')}: they renew at their next poll (a renewed one works until the renewal overlap ends); retire once meridian ca status shows none remaining`,
    );
  }
  await deps.temporal.workflow.getHandle(workflowId.caRotation(rotation.id)).signal(retireOldCa);
  return rotation;
}

/** One CA as `meridian ca status` shows it (never its key). */
export interface CaSummary {
  fingerprint: string;
  state: CaRow['state'];
  createdAt: string | null;
  activatedAt: string | null;
  retiredAt: string | null;
  keyIn: 'files' | 'database';
}

/** The recorded CAs (the CA of the files alone, when given and none is recorded) and the latest rotations. */
export async function caStatus(pool: pg.Pool, fileCaPem?: string): Promise<{ authorities: CaSummary[]; rotations: RotationRow[] }> {
  const rows = await allAuthorities(pool);
  const authorities: CaSummary[] = rows.length
    ? rows.map((r) => ({
        fingerprint: r.fingerprint,
        state: r.state,
        createdAt: r.createdAt.toISOString(),
        activatedAt: r.activatedAt?.toISOString() ?? null,
        retiredAt: r.retiredAt?.toISOString() ?? null,
        keyIn: r.sealedKey ? 'database' : 'files',
      }))
    : fileCaPem
      ? [{ fingerprint: fingerprintOf(fileCaPem), state: 'ACTIVE', createdAt: null, activatedAt: null, retiredAt: null, keyIn: 'files' }]
      : [];
  return { authorities, rotations: await latestRotations(pool, 5) };
}
