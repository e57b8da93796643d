// The rules label definitions set: compiling a definition's JSON Schema (draft 2020-12, ajv) and judging
// label values by it.
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { labelDefinitionsOf, lockLabelKeys } from '../db/label-definitions.js';
import type { Db } from '../db/tx.js';

/** Thrown by {@link compileLabelSchema} when a definition's schema is not a valid JSON Schema 2020-12. */
export class InvalidLabelSchema extends Error {
  override name = 'InvalidLabelSchema';
}

/** One label value a schema refused: where (`labels.<key>/<path>`) and why. */
export interface LabelViolation {
  path: string;
  message: string;
}

// A `pattern` an administrator writes runs on every label write of the tenant, in the API's one thread:
// it runs on V8's linear-time engine (the `l` flag), so no pattern can backtrack for seconds (ReDoS).
// That engine has no lookaround, backreferences or `u` flag; a pattern that needs them is refused.
v8.setFlagsFromString('--enable-experimental-regexp-engine');
const linearRegExp = Object.assign(
  (pattern: string): RegExp => {
    try {
      return new RegExp(pattern, 'l');
    } catch (error) {
      throw new Error(`pattern ${JSON.stringify(pattern)} is refused: ${(error as Error).message.replace(/^.*: /, '').toLowerCase()} (lookaround and backreferences are not supported)`);
    }
  },
  { code: 'linearRegExp' },
);

// Formats are annotations in 2020-12 unless a vocabulary asserts them; unknown keywords are refused, a
// keyword without its `type` is not (it applies to values of that type only, as the draft says).
const ajv = new Ajv2020({ allErrors: false, strictSchema: true, strictNumbers: true, strictTypes: false, strictTuples: false, strictRequired: false, validateFormats: false, unicodeRegExp: false, code: { regExp: linearRegExp } });
const compiled = new Map<string, ValidateFunction>();
/** Compiled schemas kept, by the SHA-256 of their JSON; the oldest is dropped beyond this. */
const CACHE_SIZE = 500;
/** The largest schema a definition may have, as JSON: a label value is small, so is what describes it. */
export const MAX_LABEL_SCHEMA_BYTES = 16 * 1024;

/**
 * Keywords that make a schema refer to itself or to others. Without them a schema is a tree, and
 * judging a label value costs at most (schema size × value size): no definition can make a label
 * write slow (a chain of `anyOf` of `$ref`s doubles the work per level) or recurse without end.
 */
const REFERENCES = new Set(['$ref', '$dynamicRef', '$recursiveRef', '$defs', 'definitions', '$anchor', '$dynamicAnchor', '$recursiveAnchor', '$id']);

/** The first reference keyword in the schema (as a JSON Pointer to it), if any. */
function referenceIn(node: unknown, at = ''): string | undefined {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) {
      const found = referenceIn(item, `${at}/${i}`);
      if (found) return found;
    }
  } else if (node !== null && typeof node === 'object') {
    for (const [key, child] of Object.entries(node)) {
      if (REFERENCES.has(key)) return `${at}/${key}`;
      const found = referenceIn(child, `${at}/${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

/** The validator of a schema, compiled once per distinct schema; InvalidLabelSchema when Meridian does not run it. */
export function compileLabelSchema(schema: unknown): ValidateFunction {
  const text = JSON.stringify(schema);
  const digest = createHash('sha256').update(text).digest('base64url');
  let validate = compiled.get(digest);
  if (validate) return validate;
  if (Buffer.byteLength(text) > MAX_LABEL_SCHEMA_BYTES) throw new InvalidLabelSchema(`must be at most ${MAX_LABEL_SCHEMA_BYTES} bytes as JSON`);
  const reference = referenceIn(schema);
  if (reference) throw new InvalidLabelSchema(`${reference}: references are not supported (a label definition is one self-contained schema)`);
  try {
    validate = ajv.compile(schema as object);
  } catch (error) {
    throw new InvalidLabelSchema((error as Error).message);
  } finally {
    // ajv keeps every schema it compiled; Meridian keeps its own bounded cache instead.
    ajv.removeSchema();
  }
  if (compiled.size >= CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
  compiled.set(digest, validate);
  return validate;
}

const violation = (key: string, error: ErrorObject | undefined): LabelViolation => ({
  path: `labels.${key}${error?.instancePath ?? ''}`,
  message: error?.message ?? 'does not match its label definition',
});

/** The first way `value` breaks the schema, or undefined when it satisfies it. */
export function judgeLabel(key: string, schema: unknown, value: unknown): LabelViolation | undefined {
  const validate = compileLabelSchema(schema);
  return validate(value) ? undefined : violation(key, validate.errors?.[0]);
}

/**
 * Every label of `labels` that breaks its key's definition in the tenant. In a transaction, the keys
 * stay locked (shared) until it ends, so no definition changes between this check and the write.
 */
export async function labelViolations(db: Db, tenantId: string, labels: Record<string, unknown>): Promise<LabelViolation[]> {
  await lockLabelKeys(db, tenantId, Object.keys(labels), 'shared');
  const definitions = await labelDefinitionsOf(db, tenantId, Object.keys(labels));
  return definitions.flatMap((d) => judgeLabel(d.key, d.schema, labels[d.key]) ?? []);
}
