import { describe, expect, it } from 'vitest';
import { callerSetting, forgetCallerSettings } from './setup/hermetic.js';

describe('the test suite', () => {
  it("forgets the caller's Meridian, database and Temporal settings, and keeps the rest", () => {
    const env = { MERIDIAN_ADMIN_TOKEN: 'short', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x', TEMPORAL_ADDRESS: '127.0.0.1:1', PATH: '/usr/bin', HOME: '/root' };
    expect(forgetCallerSettings(env).sort()).toEqual(['DATABASE_URL', 'MERIDIAN_ADMIN_TOKEN', 'TEMPORAL_ADDRESS']);
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/root' });
  });

  it('runs without them: vitest forgot them before it started this worker', () => {
    expect(Object.keys(process.env).filter(callerSetting)).toEqual([]);
  });
});
