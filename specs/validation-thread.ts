// The worker thread that validates specs (specs/validation-threads.ts): it loads the parsers once, then
// answers each message { type, format, data } with { verdict } or { error }.
import { parentPort } from 'node:worker_threads';
import { validateSpec, type SpecFormat, type SpecType } from './validate.js';

export interface ValidationRequest {
  type: SpecType;
  format: SpecFormat;
  data: string;
}

const port = parentPort;
if (port) {
  port.on('message', (request: ValidationRequest) => {
    validateSpec(request.type, request.format, request.data).then(
      (verdict) => port.postMessage({ verdict }),
      (error: unknown) => port.postMessage({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
  // The parsers are loaded: the time limit of a validation counts from here.
  port.postMessage({ ready: true });
}
