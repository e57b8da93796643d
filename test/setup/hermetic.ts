// Tests are hermetic: whatever Meridian, PostgreSQL or Temporal settings the caller's shell exports
// (an operator's MERIDIAN_ADMIN_TOKEN, a DATABASE_URL, a TEMPORAL_ADDRESS), no test, and no process a
// test starts, sees them. Each test passes the settings it means explicitly.

/** True for the variables that configure Meridian or the services it talks to. */
export const callerSetting = (name: string) => name.startsWith('MERIDIAN_') || name.startsWith('TEMPORAL_') || name === 'DATABASE_URL';

/** Removes the caller's settings from this process's environment, before vitest starts its workers (which inherit it). */
export function forgetCallerSettings(env: NodeJS.ProcessEnv = process.env): string[] {
  const names = Object.keys(env).filter(callerSetting);
  for (const name of names) delete env[name];
  return names;
}
