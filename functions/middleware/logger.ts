/**
 * One Powertools logger per container; JSON lines that CloudWatch can query. Created on the first
 * log line, not at load: most invocations never log, and a cold start should not pay for it.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';

export const logger = builtOnFirstUse(
  () =>
    new Logger({
      serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'crm',
      logLevel: (process.env.LOG_LEVEL as 'INFO' | 'WARN' | 'ERROR' | 'DEBUG' | undefined) ?? (process.env.VITEST ? 'ERROR' : 'INFO'),
    }),
);
