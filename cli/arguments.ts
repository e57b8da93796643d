// Reading the command line: repeatable options, key=value pairs, JSON values, the <kind> of an
// object, secrets (never from the command line), and the examples every command shows under --help.
import fs from 'node:fs';
import { Option, type Command } from 'commander';
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

/** Why secrets are not taken as arguments. */
const VISIBLE = 'a secret on the command line is visible in ps and in shell history';

/**
 * A secret from `file` (`-`: standard input), without its final line break; else from the environment
 * variable `envName`; undefined when neither is given. UsageError for an empty or unreadable file.
 */
export function readSecret(file: string | undefined, env: NodeJS.ProcessEnv, envName: string, what: string): string | undefined {
  if (file === undefined) return env[envName] || undefined;
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the ${what} from ${file === '-' ? 'standard input' : file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (!secret) throw new UsageError(`the ${what} in ${file === '-' ? 'standard input' : file} is empty`);
  return secret;
}

/**
 * Adds the option `flags` to `cmd` hidden, only to refuse it when given: the secret it would carry is
 * visible in `ps` and shell history. The refusal says how to pass the secret instead (and never shows it).
 */
export function refuseSecretOption(cmd: Command, flags: string, instead: string): Command {
  const option = new Option(flags).hideHelp();
  cmd.addOption(option);
  return cmd.hook('preAction', (_cmd, action) => {
    if (action.optsWithGlobals()[option.attributeName()] !== undefined) throw new UsageError(`${option.long} is not accepted: ${VISIBLE}; ${instead}`, action);
  });
}

/** UsageError for a secret given as a stray argument (`--bearer <token>`), without showing it. */
export function refuseStrayArguments(cmd: Command, expected: number, instead: string): void {
  if (cmd.args.length > expected) throw new UsageError(`too many arguments (${cmd.args.length - expected} more than expected); ${VISIBLE}: ${instead}`, cmd);
}
