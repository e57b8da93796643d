// The {{placeholders}} of application templates: where a template uses them, and filling them in.
// Filling in is plain text replacement in string values (never in keys), one pass: a value holding
// `{{x}}` is not filled in again.

/** A placeholder's name: a letter, then at most 63 letters, digits or underscores. */
export const PLACEHOLDER_NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;

/** One use of a placeholder: `{{name}}`. Any other text between braces is kept as it is. */
const USE = /\{\{([a-zA-Z][a-zA-Z0-9_]{0,63})\}\}/g;

/** A use of a placeholder: its name and the path of the string holding it (`apis.0.spec.fetchUrl`). */
export interface PlaceholderUse {
  name: string;
  path: string;
}

const child = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

/** Every use of a placeholder in the strings of `value` (a JSON value), in document order. */
export function placeholderUses(value: unknown, path = ''): PlaceholderUse[] {
  if (typeof value === 'string') return [...value.matchAll(USE)].map((match) => ({ name: match[1]!, path }));
  if (Array.isArray(value)) return value.flatMap((item, index) => placeholderUses(item, child(path, index)));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([key, item]) => placeholderUses(item, child(path, key)));
  return [];
}

/** How many characters filling `uses` in with `values` adds (a value shorter than `{{name}}` takes some away). */
export const addedLength = (uses: PlaceholderUse[], values: ReadonlyMap<string, string>) =>
  uses.reduce((sum, use) => sum + (values.get(use.name)?.length ?? 0) - (use.name.length + 4), 0);

/** `value` (a JSON value) with each use of a placeholder in its strings replaced by its value; uses without a value stay. */
export function fillPlaceholders(value: unknown, values: ReadonlyMap<string, string>): unknown {
  if (typeof value === 'string') return value.replace(USE, (use, name: string) => values.get(name) ?? use);
  if (Array.isArray(value)) return value.map((item) => fillPlaceholders(item, values));
  // Object.fromEntries defines each key as its own property, "__proto__" included, in the same order.
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fillPlaceholders(item, values)]));
  return value;
}
