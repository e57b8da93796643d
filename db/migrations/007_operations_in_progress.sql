-- The reconciler's question: which operations are still in progress, oldest first.
CREATE INDEX operations_in_progress ON operations (started_at) WHERE state = 'IN_PROGRESS';
