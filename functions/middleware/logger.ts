/** One Powertools logger per container; JSON lines that CloudWatch can query. */
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'crm',
  logLevel: (process.env.LOG_LEVEL as 'INFO' | 'WARN' | 'ERROR' | 'DEBUG' | undefined) ?? (process.env.VITEST ? 'ERROR' : 'INFO'),
});
