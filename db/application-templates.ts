// Application templates: a tenant's named application shapes with {{placeholders}}, stored as written.
import { InvalidCursor } from './objects.js';
import type { Page } from './page.js';
import type { Db } from './tx.js';

/** A declared placeholder: its name and what its value means. */
export interface PlaceholderRow {
  name: string;
  description?: string;
}

/** A template without its application shape, as lists show it. */
export interface TemplateSummaryRow {
  id: string;
  name: string;
  description: string;
  placeholders: PlaceholderRow[];
  created_at: Date;
}

export interface TemplateRow extends TemplateSummaryRow {
  /** The application shape, with {{placeholders}} in its strings. */
  application: Record<string, unknown>;
}

export interface NewTemplate {
  name: string;
  description?: string;
  placeholders: PlaceholderRow[];
  application: Record<string, unknown>;
}

const SUMMARY = 'id, name, description, placeholders, created_at';

/** The characters of a template's name: any but control characters (U+0000-U+001F, U+007F-U+009F). */
export const TEMPLATE_NAME = /^[\x20-\x7e\xa0-\uffff]+$/;

/** Stores a template of the tenant; a unique violation (the name is taken) propagates unchanged. */
export async function insertTemplate(db: Db, tenantId: string, template: NewTemplate): Promise<TemplateRow> {
  const { rows } = await db.query<TemplateRow>(
    `INSERT INTO application_templates (tenant_id, name, description, placeholders, application) VALUES ($1, $2, $3, $4, $5)
     RETURNING ${SUMMARY}, application`,
    [tenantId, template.name, template.description ?? '', JSON.stringify(template.placeholders), JSON.stringify(template.application)],
  );
  return rows[0]!;
}

/** One template of the tenant; undefined when it is not the tenant's. */
export async function getTemplate(db: Db, tenantId: string, id: string): Promise<TemplateRow | undefined> {
  const { rows } = await db.query<TemplateRow>(`SELECT ${SUMMARY}, application FROM application_templates WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  return rows[0];
}

/** A page of the tenant's templates by name; the cursor is the last name seen. */
export async function listTemplates(db: Db, tenantId: string, limit: number, cursor?: string): Promise<Page<TemplateSummaryRow>> {
  let after: string | undefined;
  if (cursor !== undefined) {
    after = Buffer.from(cursor, 'base64url').toString('utf8');
    if (after.length > 100 || !TEMPLATE_NAME.test(after) || Buffer.from(after).toString('base64url') !== cursor) throw new InvalidCursor('cursor: is not a cursor this server issued');
  }
  const { rows } = await db.query<TemplateSummaryRow>(
    `SELECT ${SUMMARY} FROM application_templates WHERE tenant_id = $1 AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3`,
    [tenantId, after ?? null, limit + 1],
  );
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? Buffer.from(last.name).toString('base64url') : null };
}

/** Removes a template of the tenant; false when it has none with that id. Applications made from it stay. */
export async function deleteTemplate(db: Db, tenantId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM application_templates WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  return (rowCount ?? 0) > 0;
}
