-- Bounded inputs (issue #14): the reconciler removes UNUSED credential slots once their retention
-- (MERIDIAN_UNUSED_SLOT_RETENTION_DAYS) has passed; this index finds them without reading every slot.
CREATE INDEX credential_slots_unused ON credential_slots (updated_at) WHERE status = 'UNUSED';
