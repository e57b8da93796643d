import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import { specSource, storeSpecResult, type SpecResult } from '../db/definitions.js';
import { setOperation } from '../db/operations.js';
import type { OutboundConfig, RegistrationConfig } from '../lib/config.js';
import { SpecFetchFailed, fetchSpec } from '../specs/fetch.js';
import { createSpecValidator } from '../specs/validation-threads.js';

export interface RegistrationDeps {
  pool: pg.Pool;
  registration: RegistrationConfig;
  outbound: OutboundConfig;
}

export type { SpecResult };

/**
 * Activities of API and Event registration. Specs never travel through workflow history: they are
 * fetched, validated (in worker threads, within MERIDIAN_SPEC_VALIDATION_TIMEOUT_SECONDS) and stored here.
 */
export function createRegistrationActivities({ pool, registration, outbound }: RegistrationDeps) {
  const validator = createSpecValidator({ timeoutMs: registration.validationTimeoutMs });
  const store = async (definitionId: string, result: SpecResult, data?: string) => {
    await storeSpecResult(pool, definitionId, result, data);
    return result;
  };

  return {
    /**
     * Fetches the spec when it is given by URL (network errors and 5xx are thrown as retryable),
     * validates it and stores it with its status. A spec that cannot be used, or whose validation takes
     * too long or too much memory, is a FAILED result.
     */
    async registerSpec({ definitionId }: { definitionId: string }): Promise<SpecResult> {
      const definition = await specSource(pool, definitionId);
      if (!definition) throw ApplicationFailure.nonRetryable('the definition no longer exists', 'NotFound');
      let data = definition.spec_data ?? '';
      if (definition.spec_fetch_url) {
        try {
          data = await fetchSpec(definition.spec_fetch_url, { allowPrivate: outbound.allowPrivate, timeoutMs: registration.fetchTimeoutMs });
        } catch (error) {
          if (!(error instanceof SpecFetchFailed)) throw error;
          if (error.retryable) throw ApplicationFailure.retryable(error.message, 'SpecFetchFailed');
          return store(definitionId, { status: 'FAILED', message: error.message });
        }
      }
      const verdict = await validator.validate(definition.spec_type, definition.spec_format, data);
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
