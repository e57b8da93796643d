// What a workflow reports when a step failed: the reason itself, not the wrappers Temporal puts around it.
import { ActivityFailure, ChildWorkflowFailure } from '@temporalio/workflow';

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
