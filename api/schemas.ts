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

export const LabelKey = z.string().regex(/^[a-zA-Z0-9_]{1,256}$/, 'must be 1-256 letters, digits or underscores');
/** Any JSON value (the body was JSON); described as `{}` in the OpenAPI document. */
export const LabelValue = z.unknown().refine((value) => value !== undefined, 'a JSON value is required');
export const Labels = z.record(LabelKey, LabelValue, { error: 'must be an object of label values' });

export const ScenarioName = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(SCENARIO_NAME, 'must be letters, digits, spaces, "-" or "_", starting and ending with a letter or digit');

export const ScenarioList = z.array(ScenarioName, { error: 'must be an array of scenario names' }).max(100, 'must have at most 100 scenarios');

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
  cursor: z.string().max(512, 'is not a cursor this server issued').optional(),
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
