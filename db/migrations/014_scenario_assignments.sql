-- Automatic scenario assignment (issue #18): "runtimes whose label `key` equals `value` join
-- `scenario`"; a scenario may have several (a runtime matching any of them joins). A membership
-- remembers why it exists: given by hand (PUT …/scenarios, or at creation), by assignment, or both; it
-- ends when neither reason is left.
CREATE TABLE scenario_assignments (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  scenario   text NOT NULL,
  key        text NOT NULL CHECK (length(key) <= 256 AND key ~ '^[a-zA-Z0-9_]+$'),
  value      jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, scenario, key, value),
  -- NO ACTION, not RESTRICT: a tenant's deletion removes its scenarios and assignments in one statement.
  FOREIGN KEY (tenant_id, scenario) REFERENCES scenarios (tenant_id, name)
);
CREATE INDEX scenario_assignments_by_label ON scenario_assignments (tenant_id, key, value);

ALTER TABLE runtime_scenarios
  ADD COLUMN by_hand boolean NOT NULL DEFAULT true,
  ADD COLUMN by_assignment boolean NOT NULL DEFAULT false,
  ADD CONSTRAINT runtime_scenarios_have_a_reason CHECK (by_hand OR by_assignment);

-- Scenarios get an id: an assignment's operation is about the scenario (operations.resource_id is a uuid),
-- and its workflow is scenario-assignment:<scenario id> (names repeat across tenants: every one has DEFAULT).
ALTER TABLE scenarios ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE;

ALTER TABLE operations DROP CONSTRAINT operations_type_check;
ALTER TABLE operations ADD CONSTRAINT operations_type_check
  CHECK (type IN ('PAIRING', 'API_REGISTRATION', 'PROVISIONING', 'DEPROVISIONING', 'UNREGISTRATION', 'SCENARIO_ASSIGNMENT'));
-- How far a long operation is (a scenario assignment: runtimes examined of the total, joined, left).
ALTER TABLE operations ADD COLUMN progress jsonb;
