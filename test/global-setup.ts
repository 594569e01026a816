/**
 * Vitest globalSetup: one in-memory DynamoDB Local for the whole run (test files make a
 * table each), and a throwaway CRM_DATA_DIR so tests never touch the developer's
 * `.crm-local` (keys included).
 *
 * Test files read the values with `inject('dynamoEndpoint')` / `inject('crmDataDir')`;
 * both are also in `process.env` (DYNAMODB_ENDPOINT, CRM_DATA_DIR) before workers start.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '#local/dynamodb-local.ts';
import { processCpuSeconds, reportLine } from '#test/support/cost-report.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    crmDataDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const crmDataDir = await mkdtemp(path.join(tmpdir(), 'crm-test-'));
  process.env.CRM_DATA_DIR = crmDataDir;
  project.provide('crmDataDir', crmDataDir);

  let ddb;
  try {
    ddb = await startDynamoDbLocal();
  } catch (err) {
    await rm(crmDataDir, { recursive: true, force: true });
    throw err;
  }
  process.env.DYNAMODB_ENDPOINT = ddb.endpoint;
  project.provide('dynamoEndpoint', ddb.endpoint);

  return async () => {
    reportLine({ file: 'DynamoDB Local (JVM)', jvmCpuSeconds: processCpuSeconds(ddb.pid) });
    await ddb.stop();
    await rm(crmDataDir, { recursive: true, force: true });
  };
}
