// What a workflow reports when a step failed: the reason itself, not the wrappers Temporal puts around it.
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TimeoutFailure } from '@temporalio/workflow';

/** The failure inside any ActivityFailure/ChildWorkflowFailure wrappers (the error itself when it is none). */
export function innermostFailure(error: unknown): unknown {
  let failure = error;
  while ((failure instanceof ActivityFailure || failure instanceof ChildWorkflowFailure) && failure.cause) failure = failure.cause;
  return failure;
}

/** The message of the innermost cause of an ActivityFailure/ChildWorkflowFailure, else the error's own message. */
export function failureMessage(error: unknown): string {
  const failure = innermostFailure(error);
  return failure instanceof Error ? failure.message : String(failure);
}

/**
 * The reason an activity finally gave up: the last attempt's own failure when Temporal kept it (a retry
 * that would have passed the schedule-to-close bound, or a timeout carrying the last failure as its
 * cause), else the innermost message.
 */
export function lastAttemptMessage(error: unknown): string {
  for (let failure: unknown = error; failure instanceof Error; failure = failure.cause) {
    if (failure instanceof ApplicationFailure) return failure.message;
  }
  const innermost = innermostFailure(error);
  if (innermost instanceof TimeoutFailure) return 'it did not finish in time';
  return failureMessage(error);
}
