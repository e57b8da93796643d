// `meridian ca …`: Meridian's certificate authority and its rotation without downtime (PostgreSQL and Temporal).
import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import type { RotationRow } from '../../db/authorities.js';
import { examples } from '../arguments.js';
import { CommandFailed, operator, type Context } from '../context.js';
import { table } from '../output.js';

const readIfPresent = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined);
const when = (at: Date | null) => at?.toISOString() ?? '-';
const short = (fingerprint: string | null) => (fingerprint ? `${fingerprint.slice(0, 16)}…` : '-');

/** One rotation in a few lines: its stage, the holders renewed and remaining, when each phase began. */
function rotationText(r: RotationRow): string {
  const progress = r.progress ? `renewed ${r.progress.renewed}, remaining ${r.progress.remaining}` : 'not counted yet';
  return [
    `rotation ${r.id}  ${r.state}  stage ${r.stage}  (retirement ${r.retire})`,
    `  old CA ${short(r.oldCa)}  new CA ${short(r.newCa)}  holders: ${progress}`,
    `  started ${when(r.startedAt)}  prepared ${when(r.preparedAt)}  activated ${when(r.activatedAt)}  finished ${when(r.finishedAt)}`,
    ...(r.message ? [`  ${r.message}`] : []),
    `  workflow ${r.workflowId}`,
  ].join('\n');
}

/** The rotation's service, loaded when a `ca` command runs (it brings the Temporal client, which no other command needs). */
const rotations = () => import('../../services/ca-rotation.js');

/** A refusal of the rotation is the command's failure (exit code 1) with its reason. */
const refused = async (error: unknown) => {
  if (error instanceof (await rotations()).RotationRefused) throw new CommandFailed((error as Error).message);
  throw error;
};

/** Adds `ca status|rotate|retire`. */
export function caCommands(program: Command, ctx: Context): void {
  const ca = program.command('ca').description("Meridian's certificate authority: rotate it without downtime (PostgreSQL and Temporal)");
  examples(
    ca.command('status').description('the CAs (active, being introduced, being retired) and the latest rotations').action(async (_o, cmd: Command) => {
      const { caStatus } = await rotations();
      // The CA of the files is read, never made: a machine without one shows what PostgreSQL records.
      const status = await ctx.withDatabase((pool, config) => caStatus(pool, readIfPresent(config.ca.certFile ?? path.join(config.dataDir, 'ca.crt'))));
      ctx.print(cmd, status, () =>
        [
          table(['CA', 'STATE', 'CREATED', 'ACTIVATED', 'RETIRED', 'KEY'], status.authorities.map((a) => [a.fingerprint.slice(0, 16), a.state, a.createdAt ?? '-', a.activatedAt ?? '-', a.retiredAt ?? '-', a.keyIn])),
          ...status.rotations.map(rotationText),
        ].join('\n') + '\n',
      );
    }),
    'meridian ca status',
  );
  examples(
    ca
      .command('rotate')
      .description('prepare a new CA, activate it once every API trusts it, retire the old one once nothing live depends on it (resumes a rotation in progress)')
      .option('--manual-retire', 'retire the old CA only on `meridian ca retire` (or once every certificate it signed has expired)')
      .action(async (o: { manualRetire?: boolean }, cmd: Command) => {
        const { startCaRotation } = await rotations();
        const started = await ctx
          .withPlane(({ pool, temporal, config }) =>
            startCaRotation({ pool, temporal, taskQueue: config.taskQueue }, { retire: o.manualRetire ? 'manual' : 'auto', requestedBy: operator() }),
          )
          .catch(refused);
        ctx.print(cmd, started, () => `${started.resumed ? 'resumed' : 'started'} ${rotationText(started.rotation)}\n  follow it: meridian ca status\n`);
      }),
    'meridian ca rotate && meridian ca status',
    'meridian ca rotate --manual-retire',
  );
  examples(
    ca
      .command('retire')
      .description('retire the old CA now; refused while a live certificate still depends on it')
      .action(async (_o, cmd: Command) => {
        const { requestRetirement } = await rotations();
        const rotation = await ctx.withPlane(({ pool, temporal, config }) => requestRetirement({ pool, temporal, taskQueue: config.taskQueue })).catch(refused);
        ctx.print(cmd, rotation, () => `retiring the old CA ${short(rotation.oldCa)} of rotation ${rotation.id}: meridian ca status shows RETIRED once done\n`);
      }),
    'meridian ca retire',
  );
}
