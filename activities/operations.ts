import type { Db } from '../db/tx.js';

/** Moves an in-progress operation to `stage`, and finishes it when `state` is given. */
export async function setOperation(db: Db, operationId: string, stage: string, state?: 'SUCCEEDED' | 'FAILED', message?: string): Promise<void> {
  await db.query(
    `UPDATE operations SET stage = $2,
       state = COALESCE($3, state), message = COALESCE($4, message),
       finished_at = CASE WHEN $3::text IS NULL THEN finished_at ELSE now() END
     WHERE id = $1 AND state = 'IN_PROGRESS'`,
    [operationId, stage, state ?? null, message ?? null],
  );
}
