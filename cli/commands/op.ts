// `meridian op …`: operations, their stages and the Temporal UI link of their workflow; also how
// `runtime create|delete --wait` follow theirs.
import type { Command } from 'commander';
import { OperationUnreadable, untilFinished } from '../../client/admin.js';
import { examples } from '../arguments.js';
import { ApiError, CommandFailed, type Answer, type Context } from '../context.js';
import { Progress, details } from '../output.js';

/** A scenario assignment's pass in words. */
const progressText = (p: { examined: number; total: number; joined: number; left: number }) => `${p.examined} of ${p.total} runtimes examined, ${p.joined} joined, ${p.left} left`;

/** An operation as `key  value` lines, with the Temporal UI link of its workflow. */
export const showOperation = (ctx: Context, cmd: Command, op: Answer) =>
  details([
    ['id', op.id],
    ['type', op.type],
    ['state', op.state],
    ['stage', op.stage],
    ['message', op.message],
    ['progress', op.progress && progressText(op.progress)],
    ['resource', op.resourceId],
    ['workflow', op.workflowId],
    ['temporal ui', op.workflowId ? ctx.uiLink(cmd, op.workflowId) : undefined],
    ['started', op.startedAt],
    ['finished', op.finishedAt],
  ]);

/** Follows an operation until it finishes, showing its stages; fails when it FAILED. */
export async function watchOperation(ctx: Context, cmd: Command, id: string): Promise<void> {
  const { url, token } = ctx.adminAccess(cmd);
  const progress = new Progress(ctx.io);
  let polls = 0;
  const op = await untilFinished(url, token, id, {
    timeoutMs: Infinity,
    intervalMs: ctx.io.interactive ? 100 : 250,
    onPoll: (answer) => {
      if (polls++ === 0) ctx.io.err(`${answer.type} ${answer.resourceId}: ${ctx.uiLink(cmd, answer.workflowId)}\n`);
      progress.update(answer.progress ? `${answer.stage} (${progressText(answer.progress)})` : answer.stage);
    },
  }).catch((error: unknown) => {
    throw error instanceof OperationUnreadable ? new ApiError(error.status, error.problem) : error;
  });
  progress.done(`${op.type} ${op.state}${op.message ? `: ${op.message}` : ''}`);
  ctx.print(cmd, op, () => showOperation(ctx, cmd, op));
  if (op.state !== 'SUCCEEDED') throw new CommandFailed(`operation ${op.id} ${op.state}${op.message ? `: ${op.message}` : ''}`);
}

/** Adds `op show|watch`. */
export function operationCommands(program: Command, ctx: Context): void {
  const op = program.command('op').description('operations (admin)');
  examples(
    op.command('show <id>').description('an operation and the Temporal UI URL of its workflow').action(async (id: string, _o, cmd: Command) => {
      const found = await ctx.admin(cmd, 'GET', `/v1/operations/${id}`);
      ctx.print(cmd, { ...found, temporalUiUrl: ctx.uiLink(cmd, found.workflowId) }, () => showOperation(ctx, cmd, found));
    }),
    'meridian op show 5f0c…',
  );
  examples(
    op.command('watch <id>').description('follow an operation stage by stage until it is done; exit 1 when it FAILED').action(async (id: string, _o, cmd: Command) => watchOperation(ctx, cmd, id)),
    'meridian op watch 5f0c…',
  );
}
