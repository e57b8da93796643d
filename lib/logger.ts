import { pino, type Logger } from 'pino';

export type { Logger };

/** Field paths whose values are never written to logs. */
const redact = [
  'authorization',
  'token',
  'password',
  'secret',
  'privateKey',
  'clientSecret',
  '*.authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.privateKey',
  '*.clientSecret',
  'headers.authorization',
  'headers["connector-token"]',
  '*.headers.authorization',
  '*.headers["connector-token"]',
];

/** JSON logger with secret redaction; `destination` lets tests capture the lines. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { service: 'meridian' }, redact: { paths: redact, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
