import { z } from 'zod';
import { SCENARIO_NAME } from '../db/scenarios.js';

/** DNS-1123 label, as docs/api.md requires for application and runtime names. */
export const DnsName = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(36, 'must be at most 36 characters')
  .regex(/^[a-z]/, 'must start with a lowercase letter')
  .regex(/^[-a-z0-9]*$/, 'must contain only lowercase letters, digits and hyphens')
  .regex(/[a-z0-9]$/, 'must end with a lowercase letter or a digit');

export const Description = z.string({ error: 'must be a string' }).max(2000, 'must be at most 2000 characters');

/**
 * Why the API refuses a request this document allows: what a JSON schema cannot say (a name that must
 * exist, a cursor that must decode). openapi.ts declares each registered refusal as a response of every
 * operation whose parameters or body use the schema, marked `x-meridian-refusal`.
 */
export const refusals = z.registry<{ status: number; description: string }>();

/** Labels an application or runtime may carry at most. */
export const MAX_LABELS = 64;
/** Longest label value string, and most items (or members) of a label value array (or object). */
export const MAX_LABEL_STRING = 1024;
export const MAX_LABEL_ITEMS = 64;

export const LabelKey = z.string().regex(/^[a-zA-Z0-9_]{1,256}$/, 'must be 1-256 letters, digits or underscores');
/**
 * A JSON value: a string of at most {@link MAX_LABEL_STRING} characters, a number, a boolean, null, or
 * an array (object) of at most {@link MAX_LABEL_ITEMS} items (members) of any JSON.
 */
export const LabelValue = z.union(
  [
    z.string().max(MAX_LABEL_STRING, `must be at most ${MAX_LABEL_STRING} characters`),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(z.unknown()).max(MAX_LABEL_ITEMS, `must have at most ${MAX_LABEL_ITEMS} items`),
    z
      .record(z.string(), z.unknown())
      .refine((value) => Object.keys(value).length <= MAX_LABEL_ITEMS, `must have at most ${MAX_LABEL_ITEMS} members`)
      .meta({ maxProperties: MAX_LABEL_ITEMS }),
  ],
  { error: `a label value is a JSON value: strings of at most ${MAX_LABEL_STRING} characters, arrays and objects of at most ${MAX_LABEL_ITEMS} items` },
);
export const Labels = z
  .record(LabelKey, LabelValue, { error: 'must be an object of label values' })
  .refine((labels) => Object.keys(labels).length <= MAX_LABELS, `must have at most ${MAX_LABELS} labels`)
  .meta({ maxProperties: MAX_LABELS });

export const ScenarioName = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(SCENARIO_NAME, 'must be letters, digits, spaces, "-" or "_", starting and ending with a letter or digit');

/** Scenario names (at least `min`), each of which must exist in the tenant (400 naming the unknown ones). */
const scenarioList = (min: number) =>
  (min > 0
    ? z.array(ScenarioName, { error: 'must be an array of scenario names' }).min(min, 'must not be empty')
    : z.array(ScenarioName, { error: 'must be an array of scenario names' })
  )
    .max(100, 'must have at most 100 scenarios')
    .meta({ description: 'Names of scenarios of the tenant; a name that does not exist is refused with 400' })
    .register(refusals, { status: 400, description: 'A scenario name that does not exist in the tenant (`errors` names it)' });

export const ScenarioList = scenarioList(0);
/** An application keeps at least one scenario. */
export const ApplicationScenarioList = scenarioList(1);

export const Id = z.uuid({ error: 'must be a UUID' });
export const IdParams = z.strictObject({ id: Id });

/** `?limit=1..100 (default 50)&cursor=` */
export const PageQuery = {
  limit: z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be between 1 and 100')
    .max(100, 'must be between 1 and 100')
    .default(50),
  cursor: z
    .string()
    .max(512, 'is not a cursor this server issued')
    .meta({ description: 'The `nextCursor` of the previous page; any other value is refused with 400' })
    .register(refusals, { status: 400, description: 'A cursor this server did not issue' })
    .optional(),
};

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const Timestamp = z.iso.datetime();

/** An absolute http(s) URL of at most 2048 characters. */
export const HttpUrl = z
  .string({ error: 'must be a string' })
  .max(2048, 'must be at most 2048 characters')
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an absolute http or https URL');
