// Application templates (admin): a named application shape whose strings hold {{placeholders}}, and
// the application made from it with their values: created with its webhooks and its API and event
// definitions in one transaction, the definitions' specs then registered like the application's own.
import type { Request } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { TEMPLATE_NAME, deleteTemplate, getTemplate, insertTemplate, listTemplates, type TemplateRow, type TemplateSummaryRow } from '../../db/application-templates.js';
import { insertApplication } from '../../db/applications.js';
import { UnknownScenarios } from '../../db/objects.js';
import type { OperationRow } from '../../db/operations.js';
import { UNIQUE_VIOLATION, pgError, withTransaction } from '../../db/tx.js';
import type { RegistrationConfig } from '../../lib/config.js';
import { announcePendingSlots } from '../../services/announcements.js';
import { PLACEHOLDER_NAME, addedLength, fillPlaceholders, placeholderUses } from '../../services/placeholders.js';
import { tenantOf } from '../auth.js';
import { badRequest, conflict, fieldErrors, notFound, type FieldError } from '../problems.js';
import { noContent, route, type Route } from '../route.js';
import { Description, IdParams, PageQuery, Timestamp, pageOf } from '../schemas.js';
import { DEFINITION_KINDS, storeDefinition, startRegistration, type DefinitionOwner, type DefinitionRouteDeps, type StoredDefinition } from './application/definitions.js';
import { NewWebhook, addWebhook } from './application/webhooks.js';
import { Application, NewApplication, toApplication } from './applications.js';
import { assertLabels } from './label-definitions.js';
import { asProblem } from './objects.js';
import { Operation, toOperation, workflowLink } from './operations.js';

/** The most characters an application made from a template may have (its JSON), as much as a request body. */
const MAX_APPLICATION_CHARS = 1024 * 1024;
/** The longest value of a placeholder. */
const MAX_VALUE_CHARS = 4096;

const PlaceholderName = z.string({ error: 'must be a string' }).regex(PLACEHOLDER_NAME, 'must be a letter, then at most 63 letters, digits or underscores');

const Placeholder = z.strictObject({ name: PlaceholderName, description: Description.optional() });

const TemplateName = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(TEMPLATE_NAME, 'must be printable characters');

/** A string of a template: it may hold {{placeholders}}, and its field's own rule applies once they are filled in. */
const Text = z.string({ error: 'must be a string' }).meta({ description: 'May hold {{placeholders}}; checked by the rule of its field once they are filled in' });

const { API, EVENT } = DEFINITION_KINDS;

/**
 * What an application made from a template is: an application (POST /v1/applications) with the
 * webhooks and the API and event definitions it would add itself. Templates carry no secrets: no
 * webhook `secret`, no API `defaultCredentials`.
 */
const ApplicationShape = NewApplication.extend({
  webhooks: z.array(NewWebhook.omit({ secret: true }), { error: 'must be an array of webhooks' }).optional(),
  apis: z.array(API.body.omit({ defaultCredentials: true }), { error: 'must be an array of API definitions' }).optional(),
  events: z.array(EVENT.body, { error: 'must be an array of event definitions' }).optional(),
});
type ApplicationShape = z.infer<typeof ApplicationShape>;

/** A spec of a template: its type and format as they must be, its data or fetchUrl text. */
const templatedSpec = <S extends z.ZodObject>(spec: S) => spec.safeExtend({ data: Text.optional(), fetchUrl: Text.optional() });

/** {@link ApplicationShape} with text where placeholders may be: the same fields and structure. */
const TemplateApplication = ApplicationShape.extend({
  name: Text,
  description: Text.optional(),
  providerName: Text.optional(),
  scenarios: z.array(Text, { error: 'must be an array of scenario names' }).max(100, 'must have at most 100 scenarios').optional(),
  webhooks: z.array(NewWebhook.omit({ secret: true }).extend({ url: Text }), { error: 'must be an array of webhooks' }).optional(),
  apis: z
    .array(
      API.body.omit({ defaultCredentials: true }).extend({ name: Text, description: Text.optional(), targetUrl: Text, spec: templatedSpec(API.body.shape.spec.unwrap()).optional() }),
      { error: 'must be an array of API definitions' },
    )
    .optional(),
  events: z
    .array(EVENT.body.extend({ name: Text, description: Text.optional(), spec: templatedSpec(EVENT.body.shape.spec.unwrap()).optional() }), {
      error: 'must be an array of event definitions',
    })
    .optional(),
}).meta({ description: 'The application, its webhooks and its API and event definitions; no secrets (webhook secret, API defaultCredentials)' });

const NewTemplate = z.strictObject({
  name: TemplateName,
  description: Description.optional(),
  placeholders: z.array(Placeholder, { error: 'must be an array of placeholders' }).max(64, 'must have at most 64 placeholders'),
  application: TemplateApplication,
});

const TemplateSummary = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  placeholders: z.array(z.object({ name: z.string(), description: z.string().optional() })),
  createdAt: Timestamp,
});
export const ApplicationTemplate = TemplateSummary.extend({ application: TemplateApplication });

const toTemplateSummary = (row: TemplateSummaryRow): z.infer<typeof TemplateSummary> => ({
  id: row.id,
  name: row.name,
  description: row.description,
  placeholders: row.placeholders,
  createdAt: row.created_at.toISOString(),
});

const toTemplate = (row: TemplateRow): z.infer<typeof ApplicationTemplate> => ({
  ...toTemplateSummary(row),
  application: row.application as z.infer<typeof TemplateApplication>,
});

const Values = z.strictObject({
  values: z.record(z.string(), z.string({ error: 'must be a string' }).max(MAX_VALUE_CHARS, `must be at most ${MAX_VALUE_CHARS} characters`), {
    error: 'must be an object of placeholder values (strings)',
  }),
});

/** The Application created, with the operations that register its definitions' specs. */
const Created = Application.extend({ operations: z.array(Operation) });

/** Definitions with the same name, which one application cannot have: one fault per later one. */
function sameNames(application: { apis?: Array<{ name: string }>; events?: Array<{ name: string }> }): FieldError[] {
  const faults: FieldError[] = [];
  for (const kind of ['apis', 'events'] as const) {
    const seen = new Set<string>();
    (application[kind] ?? []).forEach(({ name }, index) => {
      if (seen.has(name)) faults.push({ path: `application.${kind}.${index}.name`, message: `another ${kind === 'apis' ? 'API' : 'event'} of the application is named "${name}"` });
      seen.add(name);
    });
  }
  return faults;
}

/**
 * Why a template cannot be stored, each with its path: a placeholder declared twice, used in the
 * application but not declared, or declared but not used; a rule of the application broken by a string
 * that holds no placeholder (those that do are checked when values fill them in); two definitions
 * named alike; more webhooks or definitions than an application may have.
 */
function templateFaults(template: z.infer<typeof NewTemplate>, limits: RegistrationConfig): FieldError[] {
  const faults: FieldError[] = [];
  const declared = new Map<string, number>();
  template.placeholders.forEach(({ name }, index) => {
    if (declared.has(name)) faults.push({ path: `placeholders.${index}.name`, message: `declares ${name} a second time` });
    else declared.set(name, index);
  });
  const uses = placeholderUses(template.application);
  for (const use of uses) {
    if (!declared.has(use.name)) faults.push({ path: `application.${use.path}`, message: `uses {{${use.name}}}, which placeholders does not declare` });
  }
  const used = new Set(uses.map((use) => use.name));
  for (const [name, index] of declared) {
    if (!used.has(name)) faults.push({ path: `placeholders.${index}.name`, message: `${name} is not used in application` });
  }
  const templated = new Set(uses.map((use) => `application.${use.path}`));
  const strict = ApplicationShape.safeParse(template.application);
  if (!strict.success) faults.push(...fieldErrors(strict.error, 'application').filter((fault) => !templated.has(fault.path)));
  faults.push(...sameNames(template.application));
  const { webhooks = [], apis = [], events = [] } = template.application;
  if (webhooks.length > limits.maxWebhooksPerApplication) {
    faults.push({ path: 'application.webhooks', message: `must have at most ${limits.maxWebhooksPerApplication} webhooks (MERIDIAN_MAX_WEBHOOKS_PER_APPLICATION)` });
  }
  if (apis.length + events.length > limits.maxDefinitionsPerApplication) {
    faults.push({ path: 'application.apis', message: `apis and events must be at most ${limits.maxDefinitionsPerApplication} together (MERIDIAN_MAX_DEFINITIONS_PER_APPLICATION)` });
  }
  return faults;
}

/**
 * The application `values` make of the template: 400 naming each placeholder without a value and each
 * value that is not a placeholder's, or each path of the filled-in application that breaks its rule.
 */
function fillTemplate(template: TemplateRow, values: Record<string, string>): ApplicationShape {
  const given = new Map(Object.entries(values));
  const declared = new Set(template.placeholders.map((p) => p.name));
  const missing = template.placeholders.filter((p) => !given.has(p.name));
  const unknown = [...given.keys()].filter((name) => !declared.has(name));
  if (missing.length > 0 || unknown.length > 0) {
    const detail = [missing.length > 0 && `missing values: ${missing.map((p) => p.name).join(', ')}`, unknown.length > 0 && `not placeholders of this template: ${unknown.join(', ')}`];
    throw badRequest(detail.filter(Boolean).join('; '), [
      ...missing.map((p) => ({ path: `values.${p.name}`, message: `is required${p.description ? `: ${p.description}` : ''}` })),
      ...unknown.map((name) => ({ path: `values.${name}`, message: 'is not a placeholder of this template' })),
    ]);
  }
  const length = JSON.stringify(template.application).length + addedLength(placeholderUses(template.application), given);
  if (length > MAX_APPLICATION_CHARS) {
    throw badRequest(`the application these values make would be ${length} characters, more than ${MAX_APPLICATION_CHARS}`, [{ path: 'values', message: 'make the application too large' }]);
  }
  const filled = ApplicationShape.safeParse(fillPlaceholders(template.application, given));
  if (!filled.success) {
    const errors = fieldErrors(filled.error, 'application');
    throw badRequest(`the application these values make is invalid: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, errors);
  }
  const duplicates = sameNames(filled.data);
  if (duplicates.length > 0) throw badRequest(`the application these values make is invalid: ${duplicates.map((e) => `${e.path} ${e.message}`).join('; ')}`, duplicates);
  return filled.data;
}

/** What the template routes need: the definitions' own, and where the Temporal UI is. */
export interface TemplateRouteDeps extends DefinitionRouteDeps {
  temporalUiUrl?: string;
}

/**
 * Creates the application of a template with its webhooks and its definitions (each with its
 * API_REGISTRATION operation when it has a spec) in one transaction, then starts the registrations;
 * one Temporal cannot start now is started by the reconciler from its operation.
 */
async function createFromTemplate(deps: TemplateRouteDeps, tenantId: string, shape: ApplicationShape) {
  const { webhooks = [], apis = [], events = [], ...application } = shape;
  const created = await withTransaction(deps.pool, async (client) => {
    await assertLabels(client, tenantId, application.labels);
    const row = await insertApplication(client, tenantId, application);
    const owner = { tenantId, applicationId: row.id };
    for (const webhook of webhooks) await addWebhook(client, deps.keyring, deps.registration.maxWebhooksPerApplication, owner, webhook);
    const definitions: Array<{ who: DefinitionOwner; stored: StoredDefinition }> = [];
    for (const [kind, bodies] of [['API', apis], ['EVENT', events]] as const) {
      for (const body of bodies) {
        const who = { ...owner, kind };
        definitions.push({ who, stored: await storeDefinition(client, deps, who, body) });
      }
    }
    return { row, definitions };
  }).catch((error: unknown) => {
    if (error instanceof UnknownScenarios) throw badRequest(error.message, [{ path: 'application.scenarios', message: `unknown: ${error.names.join(', ')}` }]);
    return asProblem(error, 'application', application.name);
  });
  await announcePendingSlots(deps, tenantId);
  const operations: OperationRow[] = [];
  for (const { who, stored } of created.definitions) {
    if (!stored.operation) continue;
    await startRegistration(deps, who, stored.row, stored.operation);
    operations.push(stored.operation);
  }
  return { application: created.row, operations };
}

/** The tenant's template `id`; 404 when it is not the tenant's. */
async function templateOf(pool: pg.Pool, req: Request, id: string): Promise<TemplateRow> {
  const template = await getTemplate(pool, tenantOf(req), id);
  if (!template) throw notFound('no such application template');
  return template;
}

/** `POST/GET/DELETE /v1/application-templates[/{id}]` and `POST /v1/application-templates/{id}/applications` (admin). */
export function applicationTemplateRoutes(deps: TemplateRouteDeps): Route[] {
  const { pool } = deps;
  const link = workflowLink(deps);
  return [
    route({
      method: 'post',
      path: '/v1/application-templates',
      operationId: 'create-application-template',
      summary: 'Create an application template: an application with webhooks and definitions whose strings hold {{placeholders}}',
      tag: 'application-templates',
      auth: 'admin',
      body: NewTemplate,
      responses: { 201: { description: 'Created', schema: ApplicationTemplate, headers: { Location: 'The template' } } },
      refusals: {
        400: 'A placeholder declared twice, used but not declared, or declared but not used; a rule of the application broken where no placeholder is; definitions named alike; more webhooks or definitions than an application may have (`errors` names each path)',
        409: 'A template of that name exists in the tenant',
      },
      handle: async ({ req, body }) => {
        const faults = templateFaults(body, deps.registration);
        if (faults.length > 0) throw badRequest(`the template is invalid: ${faults.map((f) => `${f.path} ${f.message}`).join('; ')}`, faults);
        // Stored as the administrator wrote it (the parse above accepted it unchanged, but orders keys its own way).
        const written = req.body as z.infer<typeof NewTemplate>;
        const row = await insertTemplate(pool, tenantOf(req), { ...body, placeholders: written.placeholders, application: written.application }).catch((error: unknown) => {
          if (pgError(error)?.code === UNIQUE_VIOLATION) throw conflict(`an application template named "${body.name}" already exists in this tenant`);
          throw error;
        });
        return { status: 201, body: toTemplate(row), headers: { location: `/v1/application-templates/${row.id}` } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/application-templates',
      operationId: 'list-application-templates',
      summary: "The tenant's application templates by name (without their application)",
      tag: 'application-templates',
      auth: 'admin',
      query: z.strictObject(PageQuery),
      responses: { 200: { description: 'A page of templates', schema: pageOf(TemplateSummary) } },
      handle: async ({ req, query }) => {
        const page = await listTemplates(pool, tenantOf(req), query.limit, query.cursor);
        return { status: 200, body: { items: page.items.map(toTemplateSummary), nextCursor: page.nextCursor } };
      },
    }),
    route({
      method: 'get',
      path: '/v1/application-templates/{id}',
      operationId: 'get-application-template',
      summary: 'One application template',
      tag: 'application-templates',
      auth: 'admin',
      params: IdParams,
      responses: { 200: { description: 'The template', schema: ApplicationTemplate } },
      handle: async ({ req, params }) => ({ status: 200, body: toTemplate(await templateOf(pool, req, params.id)) }),
    }),
    route({
      method: 'delete',
      path: '/v1/application-templates/{id}',
      operationId: 'delete-application-template',
      summary: 'Delete an application template; applications made from it stay',
      tag: 'application-templates',
      auth: 'admin',
      params: IdParams,
      responses: noContent,
      handle: async ({ req, params }) => {
        if (!(await deleteTemplate(pool, tenantOf(req), params.id))) throw notFound('no such application template');
        return { status: 204 };
      },
    }),
    route({
      method: 'post',
      path: '/v1/application-templates/{id}/applications',
      operationId: 'create-application-from-template',
      summary: "Create an application from a template with a value for each placeholder; its definitions' specs are registered (operations)",
      tag: 'application-templates',
      auth: 'admin',
      params: IdParams,
      body: Values,
      responses: { 201: { description: 'Created; each operation registers the spec of a definition', schema: Created, headers: { Location: 'The application' } } },
      refusals: {
        400: 'A placeholder without a value, a value of no placeholder, or an application these values make that breaks a rule (a label definition, a scenario that does not exist; `errors` names each path)',
        409: 'An application of that name exists in the tenant',
      },
      handle: async ({ req, params, body }) => {
        const template = await templateOf(pool, req, params.id);
        const created = await createFromTemplate(deps, tenantOf(req), fillTemplate(template, body.values));
        return {
          status: 201,
          body: { ...toApplication(created.application), operations: created.operations.map((op) => toOperation(op, link)) },
          headers: { location: `/v1/applications/${created.application.id}` },
        };
      },
    }),
  ];
}
