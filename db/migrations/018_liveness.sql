-- Honest liveness (issue #19): a CONNECTED runtime that misses MERIDIAN_UNREACHABLE_AFTER_INTERVALS of its
-- poll intervals becomes UNREACHABLE, and CONNECTED again at its next call; applications sharing a
-- scenario hear `runtime.unreachable` / `runtime.reachable` (docs/architecture.md, "When a runtime last called").
ALTER TABLE runtimes DROP CONSTRAINT runtimes_condition_check;
ALTER TABLE runtimes ADD CONSTRAINT runtimes_condition_check
  CHECK (condition IN ('INITIAL', 'PROVISIONING', 'CONNECTING', 'CONNECTED', 'UNREACHABLE', 'FAILED', 'DEPROVISIONING'));

-- The outbox of liveness transitions: the statement that moves a runtime between CONNECTED and
-- UNREACHABLE counts the transition in `liveness_transitions` and records it here; announcing it starts
-- its fan-out (event id `runtime.unreachable:<runtimeId>:<transition>`, delivered once) and deletes the
-- row. What a crash left unannounced, the reconciler's next round announces.
ALTER TABLE runtimes ADD COLUMN liveness_transitions integer NOT NULL DEFAULT 0;
CREATE TABLE runtime_liveness_events (
  runtime_id  uuid NOT NULL REFERENCES runtimes (id) ON DELETE CASCADE,
  transition  integer NOT NULL,
  tenant_id   uuid NOT NULL,
  type        text NOT NULL CHECK (type IN ('runtime.unreachable', 'runtime.reachable')),
  occurred_at timestamptz NOT NULL,
  PRIMARY KEY (runtime_id, transition)
);

-- Since when the API processes have recorded runtime calls without a gap: every flush of last-seen times
-- (services/last-seen.ts) touches this one row, and one after a gap longer than three flush intervals
-- (the plane stopped, or lost PostgreSQL) starts `since` again. Missed polls are counted only from
-- `since`, and only while a flush was heard lately: runtimes do not become UNREACHABLE because the plane
-- itself was not listening.
CREATE TABLE runtime_call_recording (
  id         boolean PRIMARY KEY DEFAULT true CHECK (id),
  since      timestamptz NOT NULL,
  flushed_at timestamptz NOT NULL
);
