// Reading the command line: repeatable options, key=value pairs, JSON values, the <kind> of an
// object, and the examples every command shows under --help.
import type { Command } from 'commander';
import { UsageError, type ObjectPath } from './context.js';

/** Collects a repeatable option into an array. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `key=value` texts as an object; UsageError for any other text. */
export const pairs = (values: string[] | undefined, what: string) =>
  Object.fromEntries(
    (values ?? []).map((text) => {
      const at = text.indexOf('=');
      if (at < 1) throw new UsageError(`${what} must be key=value, got "${text}"`);
      return [text.slice(0, at), text.slice(at + 1)];
    }),
  );

/** The text parsed as JSON when it can be, else the text itself. */
export const jsonValue = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** `--label key=value` options as labels, each value parsed as JSON when it can be. */
export const labels = (values: string[] | undefined) => Object.fromEntries(Object.entries(pairs(values, '--label')).map(([k, v]) => [k, jsonValue(v)]));

/** The API path of `app` (or `application`) and `runtime`. */
export function kindPath(kind: string): ObjectPath {
  if (kind === 'app' || kind === 'application') return 'applications';
  if (kind === 'runtime') return 'runtimes';
  throw new UsageError(`<kind> must be app or runtime, got "${kind}"`);
}

/** Adds example command lines to the help of `cmd`. */
export const examples = (cmd: Command, ...lines: string[]) => cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`);
