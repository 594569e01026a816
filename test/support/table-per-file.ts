/**
 * Runs before each test file, in that file's worker: a table of its own on the shared
 * DynamoDB Local (dropped after the file), and the in-process event bus, so files run in
 * parallel without seeing each other's data.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, expect, inject } from 'vitest';
import { createTableInput } from '#domain/table/definition.ts';
import { trackFileCost } from '#test/support/cost-report.ts';

process.env.DYNAMODB_ENDPOINT = inject('dynamoEndpoint');
process.env.CRM_DATA_DIR = inject('crmDataDir');
process.env.TABLE_NAME = `crm-test-${randomUUID()}`;
// As the local runtime (local/server.ts): webhooks may go to receivers on 127.0.0.1.
process.env.WEBHOOKS_ALLOW_LOOPBACK ??= '1';
// The contract and fuzz tests send thousands of requests per tenant (and from 127.0.0.1) a minute: a high
// default keeps the rate limiter out of their way. test/integrations/rate-limits.test.ts tests the real defaults.
process.env.RATE_LIMIT_REQUESTS_PER_MINUTE ??= '1000000';
process.env.RATE_LIMIT_API_KEY_REQUESTS_PER_MINUTE ??= '1000000';
process.env.RATE_LIMIT_PUBLIC_REQUESTS_PER_MINUTE ??= '1000000';

const { db } = await import('#domain/table/client.ts');
const reportCost = trackFileCost(db, path.relative(process.cwd(), expect.getState().testPath ?? '?'));
await db.send(new CreateTableCommand(createTableInput(process.env.TABLE_NAME)));
// The shared DynamoDB Local keeps every table in memory: drop this file's when it is done.
afterAll(async () => {
  await db.send(new DeleteTableCommand({ TableName: process.env.TABLE_NAME }));
  reportCost?.();
});

const { usePublisher } = await import('#events/publisher.ts');
const { inProcessPublisher } = await import('#local/bus.ts');
usePublisher(inProcessPublisher());
