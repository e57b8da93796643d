import type { SpecFormat, SpecType } from '../specs/validate.js';
import type { Binding, Sealed } from '../trust/encryption.js';
import type { Db } from './tx.js';

export type DefinitionKind = 'API' | 'EVENT';

export interface DefinitionRow {
  id: string;
  tenant_id: string;
  application_id: string;
  kind: DefinitionKind;
  name: string;
  description: string;
  target_url: string | null;
  spec_type: string | null;
  spec_format: string | null;
  spec_fetch_url: string | null;
  spec_status: string | null;
  spec_message: string | null;
  has_default_credentials: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, tenant_id, application_id, kind, name, description, target_url, spec_type, spec_format, spec_fetch_url,
  spec_status, spec_message, default_credentials_ciphertext IS NOT NULL AS has_default_credentials, created_at, updated_at`;

export interface DefinitionInput {
  name: string;
  description?: string;
  targetUrl?: string;
  spec?: { type: string; format: string; data?: string; fetchUrl?: string };
  /** Sealed credentials (for {@link defaultCredentialsBinding}) that fill the API's new credential slots. */
  defaultCredentials?: Sealed;
}

/** What an API's default credentials are bound to: its definition and tenant. */
export const defaultCredentialsBinding = (tenantId: string, definitionId: string): Binding => ({ table: 'definitions', row: definitionId, tenant: tenantId });

const values = (input: DefinitionInput) => [
  input.name,
  input.description ?? '',
  input.targetUrl ?? null,
  input.spec?.type ?? null,
  input.spec?.format ?? null,
  input.spec?.fetchUrl ?? null,
  input.spec?.data ?? null,
  input.spec ? 'PENDING' : null,
  input.defaultCredentials?.ciphertext ?? null,
  input.defaultCredentials?.keyId ?? null,
];

/**
 * Stores a new API or event definition of the application (spec PENDING when it has one), under `id`
 * when given (the id its default credentials were sealed for). Its creation time is the statement's,
 * so definitions added in one transaction (an application made from a template) list in that order.
 */
export async function insertDefinition(db: Db, owner: { tenantId: string; applicationId: string; kind: DefinitionKind }, input: DefinitionInput, id?: string): Promise<DefinitionRow> {
  const { rows } = await db.query<DefinitionRow>(
    `INSERT INTO definitions (id, tenant_id, application_id, kind, name, description, target_url, spec_type, spec_format, spec_fetch_url, spec_data, spec_status,
       default_credentials_ciphertext, default_credentials_key_id, created_at, updated_at)
     VALUES (COALESCE($14::uuid, gen_random_uuid()), $11, $12, $13, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, clock_timestamp(), clock_timestamp()) RETURNING ${COLUMNS}`,
    [...values(input), owner.tenantId, owner.applicationId, owner.kind, id ?? null],
  );
  return rows[0]!;
}

/**
 * Locks the application's row until the transaction ends, so concurrent additions count one after the
 * other, then counts its API and event definitions (in a statement of its own: it sees what the
 * previous holder of the lock committed).
 */
export async function lockAndCountDefinitions(db: Db, applicationId: string): Promise<number> {
  await db.query('SELECT 1 FROM applications WHERE id = $1 FOR NO KEY UPDATE', [applicationId]);
  const { rows } = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM definitions WHERE application_id = $1', [applicationId]);
  return rows[0]!.count;
}

/** Replaces a definition of the application; undefined when it is not the application's. */
export async function replaceDefinition(db: Db, owner: { applicationId: string; kind: DefinitionKind }, id: string, input: DefinitionInput): Promise<DefinitionRow | undefined> {
  const { rows } = await db.query<DefinitionRow>(
    `UPDATE definitions SET name = $1, description = $2, target_url = $3, spec_type = $4, spec_format = $5, spec_fetch_url = $6,
       spec_data = $7, spec_status = $8, spec_message = NULL, default_credentials_ciphertext = $9, default_credentials_key_id = $10, updated_at = now()
     WHERE id = $11 AND application_id = $12 AND kind = $13 RETURNING ${COLUMNS}`,
    [...values(input), id, owner.applicationId, owner.kind],
  );
  return rows[0];
}

/** One definition of the application; undefined when it is not the application's. */
export async function getDefinition(db: Db, owner: { applicationId: string; kind: DefinitionKind }, id: string): Promise<DefinitionRow | undefined> {
  const { rows } = await db.query<DefinitionRow>(`SELECT ${COLUMNS} FROM definitions WHERE id = $1 AND application_id = $2 AND kind = $3`, [
    id,
    owner.applicationId,
    owner.kind,
  ]);
  return rows[0];
}

/** The application's definitions of one kind in creation order. */
export async function listDefinitions(db: Db, owner: { applicationId: string; kind: DefinitionKind }): Promise<DefinitionRow[]> {
  const { rows } = await db.query<DefinitionRow>(`SELECT ${COLUMNS} FROM definitions WHERE application_id = $1 AND kind = $2 ORDER BY created_at, id`, [
    owner.applicationId,
    owner.kind,
  ]);
  return rows;
}

/** Removes a definition of the application; false when it is not the application's. */
export async function deleteDefinition(db: Db, owner: { applicationId: string; kind: DefinitionKind }, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM definitions WHERE id = $1 AND application_id = $2 AND kind = $3', [id, owner.applicationId, owner.kind]);
  return rowCount === 1;
}

/** The outcome of a spec's registration, as stored with the definition. */
export interface SpecResult {
  status: 'SUCCEEDED' | 'FAILED';
  message?: string;
}

/** Where a definition's spec comes from: its type and format, and its URL or its stored text. */
export interface SpecSource {
  spec_type: SpecType;
  spec_format: SpecFormat;
  spec_fetch_url: string | null;
  spec_data: string | null;
}

/** The definition's {@link SpecSource}; undefined when the definition is gone. */
export async function specSource(db: Db, definitionId: string): Promise<SpecSource | undefined> {
  const { rows } = await db.query<SpecSource>('SELECT spec_type, spec_format, spec_fetch_url, spec_data FROM definitions WHERE id = $1', [definitionId]);
  return rows[0];
}

/** Stores a spec's registration outcome, and its text when given (a fetched spec). */
export async function storeSpecResult(db: Db, definitionId: string, result: SpecResult, data?: string): Promise<void> {
  await db.query(`UPDATE definitions SET spec_status = $2, spec_message = $3, spec_data = COALESCE($4, spec_data), updated_at = now() WHERE id = $1`, [
    definitionId,
    result.status,
    result.message ?? null,
    data ?? null,
  ]);
}
