-- Application templates (issue #18): a named application shape of a tenant (description, labels,
-- scenarios, webhooks, API and event definitions) whose strings hold {{placeholders}};
-- POST /v1/application-templates/{id}/applications fills them in and creates the application.
CREATE TABLE application_templates (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  description  text NOT NULL DEFAULT '',
  -- json, not jsonb: kept as the administrator wrote them (key order)
  placeholders json NOT NULL,  -- [{name, description}]
  application  json NOT NULL,  -- {name, description, labels, scenarios, webhooks, apis, events}
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, name)
);
