// Activities of a CA rotation (workflows/ca-rotation.ts): each phase's change of the authorities in one
// transaction, then every runtime and application told to fetch its configuration again.
import { Context } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type pg from 'pg';
import {
  activateAuthority,
  applicationsWithWebhooks,
  attributeUnattributedCertificates,
  bumpConfigurations,
  caKeyBinding,
  lastExpiryOf,
  recordFileCa,
  recordPreparedCa,
  retireAuthority,
  rotationById,
  rotationProgress,
  trustedAuthorities,
  updateRotation,
  type RotationProgress,
  type RotationStage,
} from '../db/authorities.js';
import { withTransaction } from '../db/tx.js';
import { fileAuthorities } from '../trust/authorities.js';
import { fingerprintOf, generateCa, type Ca } from '../trust/ca.js';
import { seal, type Keyring } from '../trust/encryption.js';
import { notificationAttributes, workflowId } from '../workflows/ids.js';
import { notifyApplication } from '../workflows/notify.js';

export interface CaRotationDeps {
  pool: pg.Pool;
  /** The CA of the files: the old CA of the first rotation. */
  ca: Ca;
  keyring: Keyring;
  temporal: Client;
}

/** The two CAs of a rotation, by fingerprint. */
export interface RotationCas {
  oldCa: string;
  newCa: string;
}

/** Applications told per page of a trust announcement. */
const ANNOUNCE_PAGE = 200;
/**
 * Configurations bumped at once, a batch a second: a fleet's held configuration requests wake a hundred at
 * a time instead of all in the same instant (which the API's load shedding would answer with 429s).
 */
const BUMP_BATCH = 100;
const BUMP_PAUSE_MS = 1_000;

export function createCaRotationActivities({ pool, ca, keyring, temporal }: CaRotationDeps) {
  return {
    /**
     * Prepare: a new CA (RSA 3072, its key sealed) recorded PREPARED, so every API replica trusts it at its
     * next read of the authorities; the CA of the files is recorded ACTIVE first if no CA was recorded yet.
     * A re-run (the activity retried) finds the CA it made under the rotation and makes none.
     */
    async prepareCa({ rotationId }: { rotationId: string }): Promise<RotationCas> {
      return withTransaction(pool, async (client) => {
        // Locked: a retried attempt that overlaps a slow one waits for it, and then finds its CA.
        const rotation = await rotationById(client, rotationId, true);
        if (!rotation) throw new Error(`no CA rotation ${rotationId}`);
        if (rotation.oldCa && rotation.newCa) return { oldCa: rotation.oldCa, newCa: rotation.newCa };
        const file = fileAuthorities(ca).active;
        await recordFileCa(client, { fingerprint: file.fingerprint, certificate: file.certPem });
        const active = (await trustedAuthorities(client)).find((row) => row.state === 'ACTIVE');
        if (!active) throw new Error('no ACTIVE certificate authority is recorded');
        if (active.fingerprint === file.fingerprint) await attributeUnattributedCertificates(client, file.fingerprint);
        const generated = generateCa();
        const fingerprint = fingerprintOf(generated.certPem);
        const sealed = seal(keyring, generated.keyPem, caKeyBinding(fingerprint));
        await recordPreparedCa(client, { fingerprint, certificate: generated.certPem, keyCiphertext: sealed.ciphertext, keyId: sealed.keyId });
        await updateRotation(client, rotationId, { stage: 'PREPARED', oldCa: active.fingerprint, newCa: fingerprint });
        return { oldCa: active.fingerprint, newCa: fingerprint };
      });
    },

    /** Activate: the new CA signs every certificate from now on; the old one is RETIRING (still trusted). */
    async activateCa({ rotationId, newCa }: { rotationId: string; newCa: string }): Promise<void> {
      await withTransaction(pool, async (client) => {
        await activateAuthority(client, newCa);
        await updateRotation(client, rotationId, { stage: 'ACTIVATED' });
      });
    },

    /** Retire: the old CA leaves the trust bundle; the mTLS listener's certificate comes from the new one. */
    async retireCa({ rotationId, oldCa }: { rotationId: string; oldCa: string }): Promise<void> {
      await withTransaction(pool, async (client) => {
        await retireAuthority(client, oldCa);
        await updateRotation(client, rotationId, { stage: 'RETIRED', state: 'SUCCEEDED', message: null });
      });
    },

    /** How many holders renewed under the new CA and how many still depend on the old one; recorded on the rotation. */
    async checkRotation({ rotationId, oldCa, newCa }: { rotationId: string } & RotationCas): Promise<RotationProgress & { lastExpiry: string | null }> {
      const progress = await rotationProgress(pool, oldCa, newCa);
      await updateRotation(pool, rotationId, { progress: { ...progress, checkedAt: new Date().toISOString() } });
      const lastExpiry = await lastExpiryOf(pool, oldCa);
      return { ...progress, lastExpiry: lastExpiry?.toISOString() ?? null };
    },

    /** Records why the rotation waits (a retirement refused). */
    async noteRotation({ rotationId, message }: { rotationId: string; message: string }): Promise<void> {
      await updateRotation(pool, rotationId, { message });
    },

    /**
     * Tells every runtime and application that the authorities changed: every configVersion is bumped, a
     * hundred a second (agents hear it through their hint or long poll; the new configuration carries
     * `trustBundle` and `issuingCa`), and every application with a CONFIGURATION_CHANGED webhook gets `configuration.changed`
     * with `reason: certificate-authority` (one notification per application and phase: a retried activity
     * starts none twice). Returns how many were told.
     */
    async announceTrustChange({ rotationId, phase }: { rotationId: string; phase: RotationStage }): Promise<{ runtimes: number; applications: number; notified: number }> {
      const bumped = { runtimes: 0, applications: 0 };
      for (const table of ['runtimes', 'applications'] as const) {
        for (let after: string | null = null; ; ) {
          const batch = await bumpConfigurations(pool, table, after, BUMP_BATCH);
          bumped[table] += batch.bumped;
          Context.current().heartbeat(bumped);
          if (batch.bumped < BUMP_BATCH) break;
          after = batch.last;
          await Context.current().sleep(BUMP_PAUSE_MS);
        }
      }
      const taskQueue = Context.current().info.taskQueue;
      const eventId = `certificate-authority:${rotationId}:${phase}`;
      let notified = 0;
      for (let after: string | null = null; ; ) {
        const page = await applicationsWithWebhooks(pool, after, ANNOUNCE_PAGE);
        for (const application of page) {
          await temporal.workflow
            .start(notifyApplication, {
              workflowId: workflowId.notify(application.id, eventId),
              taskQueue,
              workflowIdReusePolicy: 'REJECT_DUPLICATE',
              staticSummary: `Deliver configuration.changed (CA rotation ${rotationId}: ${phase}) to application ${application.id}`,
              args: [
                {
                  tenantId: application.tenantId,
                  applicationId: application.id,
                  eventId,
                  event: { type: 'configuration.changed', runtime: null, reason: 'certificate-authority', configVersion: application.configVersion, occurredAt: new Date().toISOString() },
                },
              ],
              typedSearchAttributes: notificationAttributes(application.tenantId, application.id),
            })
            .then(() => notified++)
            .catch((error: unknown) => {
              if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
            });
          Context.current().heartbeat(notified);
        }
        if (page.length < ANNOUNCE_PAGE) break;
        after = page[page.length - 1]!.id;
      }
      return { ...bumped, notified };
    },
  };
}

export type CaRotationActivities = ReturnType<typeof createCaRotationActivities>;
