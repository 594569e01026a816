import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal } from '#local/dynamodb-local.ts';

const client = (endpoint: string) =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('startDynamoDbLocal', { timeout: 60_000 }, () => {
  it('runs in memory, answers ListTables, and stop() ends the JVM', async () => {
    const ddb = await startDynamoDbLocal();
    try {
      expect(ddb.endpoint).toBe(`http://127.0.0.1:${ddb.port}`);
      expect(alive(ddb.pid)).toBe(true);
      const db = client(ddb.endpoint);
      expect((await db.send(new ListTablesCommand({}))).TableNames).toEqual([]);
      db.destroy();
    } finally {
      await ddb.stop();
    }
    expect(alive(ddb.pid)).toBe(false);
    await ddb.stop(); // idempotent
  });

  it('keeps tables in dataDir across a restart', async () => {
    const dataDir = path.join(await mkdtemp(path.join(tmpdir(), 'crm-ddb-')), 'nested', 'db');
    dirs.push(path.dirname(path.dirname(dataDir)));

    const first = await startDynamoDbLocal({ dataDir });
    try {
      const db = client(first.endpoint);
      await db.send(
        new CreateTableCommand({
          TableName: 'persisted',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      db.destroy();
    } finally {
      await first.stop();
    }

    const second = await startDynamoDbLocal({ dataDir });
    try {
      expect(second.pid).not.toBe(first.pid);
      const db = client(second.endpoint);
      expect((await db.send(new ListTablesCommand({}))).TableNames).toEqual(['persisted']);
      db.destroy();
    } finally {
      await second.stop();
    }
  });
});
