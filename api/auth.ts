import type { Request } from 'express';
import type pg from 'pg';
import { findAdminToken, recordAdminTokenUse } from '../db/tenants.js';
import { unauthorized } from './problems.js';
import type { Authenticator } from './route.js';

const BEARER = /^Bearer ([\w.~+/-]{16,512}=*)$/;

/**
 * `Authorization: Bearer <admin token>` → the token's tenant; missing, unknown or revoked → 401. The
 * lookup only reads; the token's use is written at most once a minute.
 */
export function adminAuthenticator(pool: pg.Pool): Authenticator {
  return async (req) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    if (!match) throw unauthorized('an admin token is required: Authorization: Bearer <token>');
    const token = await findAdminToken(pool, match[1]!);
    if (!token) throw unauthorized('the admin token is invalid or revoked');
    if (token.useDue) await recordAdminTokenUse(pool, token.id);
    req.tenant = token.tenant;
    req.adminTokenName = token.name;
  };
}

/** The tenant of the authenticated administrator (routes with `auth: 'admin'`). */
export const tenantOf = (req: Request): string => req.tenant!.id;
