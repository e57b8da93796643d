import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import type { RegistrationConfig } from '../lib/config.js';
import { SpecFetchFailed, fetchSpec } from '../specs/fetch.js';
import { validateSpec, type SpecFormat, type SpecType } from '../specs/validate.js';
import { setOperation } from './operations.js';

export interface RegistrationDeps {
  pool: pg.Pool;
  registration: RegistrationConfig;
}

export interface SpecResult {
  status: 'SUCCEEDED' | 'FAILED';
  message?: string;
}

/** Activities of API and Event registration. Specs never travel through workflow history: they are fetched, validated and stored here. */
export function createRegistrationActivities({ pool, registration }: RegistrationDeps) {
  const store = async (definitionId: string, result: SpecResult, data?: string) => {
    await pool.query(
      `UPDATE definitions SET spec_status = $2, spec_message = $3, spec_data = COALESCE($4, spec_data), updated_at = now() WHERE id = $1`,
      [definitionId, result.status, result.message ?? null, data ?? null],
    );
    return result;
  };

  return {
    /**
     * Fetches the spec when it is given by URL (network errors and 5xx are thrown as retryable),
     * validates it and stores it with its status. A spec that cannot be used is a FAILED result.
     */
    async registerSpec({ definitionId }: { definitionId: string }): Promise<SpecResult> {
      const { rows } = await pool.query<{ spec_type: SpecType; spec_format: SpecFormat; spec_fetch_url: string | null; spec_data: string | null }>(
        'SELECT spec_type, spec_format, spec_fetch_url, spec_data FROM definitions WHERE id = $1',
        [definitionId],
      );
      const definition = rows[0];
      if (!definition) throw ApplicationFailure.nonRetryable('the definition no longer exists', 'NotFound');
      let data = definition.spec_data ?? '';
      if (definition.spec_fetch_url) {
        try {
          data = await fetchSpec(definition.spec_fetch_url, { allowPrivate: registration.allowPrivate, timeoutMs: registration.fetchTimeoutMs });
        } catch (error) {
          if (!(error instanceof SpecFetchFailed)) throw error;
          if (error.retryable) throw ApplicationFailure.retryable(error.message, 'SpecFetchFailed');
          return store(definitionId, { status: 'FAILED', message: error.message });
        }
      }
      const verdict = await validateSpec(definition.spec_type, definition.spec_format, data);
      return store(definitionId, verdict.ok ? { status: 'SUCCEEDED', message: verdict.summary } : { status: 'FAILED', message: verdict.message }, data);
    },

    /** The fetch kept failing: the definition stays, flagged FAILED with the last reason. */
    async markSpecFailed({ definitionId, message }: { definitionId: string; message: string }): Promise<SpecResult> {
      return store(definitionId, { status: 'FAILED', message });
    },

    async finishRegistration({ operationId, result }: { operationId: string; result: SpecResult }): Promise<void> {
      await setOperation(pool, operationId, 'FINISHED', result.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED', result.message);
    },
  };
}

export type RegistrationActivities = ReturnType<typeof createRegistrationActivities>;
