import type { Request } from 'express';
import type pg from 'pg';
import { tenantForAdminToken } from '../db/tenants.js';
import { unauthorized } from './problems.js';
import type { Authenticator } from './route.js';

const BEARER = /^Bearer ([\w.~+/-]{16,512}=*)$/;

/** `Authorization: Bearer <admin token>` → the token's tenant; missing, unknown or revoked → 401. */
export function adminAuthenticator(pool: pg.Pool): Authenticator {
  return async (req) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match) throw unauthorized('an admin token is required: Authorization: Bearer <token>');
    const tenant = await tenantForAdminToken(pool, match[1]!);
    if (!tenant) throw unauthorized('the admin token is invalid or revoked');
    req.tenant = tenant;
  };
}

/** The tenant of the authenticated administrator (routes with `auth: 'admin'`). */
export const tenantOf = (req: Request): string => req.tenant!.id;
