import { fileURLToPath } from 'node:url';

/** Whether this process runs the TypeScript sources (through tsx) rather than the compiled `dist/`. */
const fromSource = (url: string) => url.endsWith('.ts');

/** The repository root (or the folder holding `dist/`): where `node_modules` is. */
export const PROJECT_ROOT = fileURLToPath(new URL(fromSource(import.meta.url) ? '..' : '../..', import.meta.url));

/**
 * The file of a module next to the calling one, in the form the caller runs in: `.ts` among the
 * sources, `.js` in `dist/`. `modulePath('../workflows/agent', import.meta.url)`.
 */
export function modulePath(relative: string, callerUrl: string): string {
  return fileURLToPath(new URL(`${relative}.${fromSource(callerUrl) ? 'ts' : 'js'}`, callerUrl));
}

/** Node arguments that run `file`: through tsx for a `.ts` source, directly for compiled code. */
export const nodeArgs = (file: string): string[] => (file.endsWith('.ts') ? ['--import', 'tsx', file] : [file]);
