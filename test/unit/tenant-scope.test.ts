/**
 * Tenant isolation of the table client (issue 11 point 5): inside a tenant's scope, every request
 * reaches only that tenant's keys, whatever tenant id a use case is handed (a forged one is
 * refused before anything is sent); and the STS adapter's AssumeRole request and its cache.
 * Data requests run against DynamoDB Local through `db`, exactly as use cases make them.
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AssumeRoleInput } from '#domain/aws/sts.ts';
import { db, tableName } from '#domain/table/client.ts';
import { entityKey, typePartition } from '#domain/table/keys.ts';
import { queryInput } from '#domain/table/query.ts';
import {
  assumeRoleInput,
  runAsTenant,
  setTenantClientProvider,
  stsClientProvider,
  RENEW_BEFORE_MS,
  type StsPort,
} from '#domain/table/tenant-client.ts';
import { SHARED_KEY_PREFIXES, assertWithinTenant } from '#domain/table/tenant-scope.ts';

const A = 'tenantA';
const B = 'tenantAB'; // a tenant whose id starts with A's: the key prefix must still tell them apart

const accountOf = (tenantId: string, id: string) => ({
  ...entityKey(tenantId, 'ACCOUNT', id),
  typePk: typePartition(tenantId, 'ACCOUNT'),
  typeSk: id,
  name: `${tenantId} ${id}`,
});

const raw = async (key: { PK: string; SK: string }) => (await db.send(new GetCommand({ TableName: tableName(), Key: key }))).Item;

/** The error a refused request fails with: DynamoDB's own name for it. */
const refused = { name: 'AccessDeniedException' };

beforeAll(async () => {
  for (const t of [A, B]) await db.send(new PutCommand({ TableName: tableName(), Item: accountOf(t, 'acc1') }));
});

afterEach(() => setTenantClientProvider(undefined));

describe('a tenant scope (the local provider: the base client and the key guard)', () => {
  it('reaches its own keys: Get, Query on the table and an index, Put, Update, BatchGet, TransactWrite', async () => {
    await runAsTenant(A, async () => {
      expect((await db.send(new GetCommand({ TableName: tableName(), Key: entityKey(A, 'ACCOUNT', 'acc1') }))).Item?.name).toBe(`${A} acc1`);
      const byType = await db.send(new QueryCommand(queryInput({ index: 'byType', pk: typePartition(A, 'ACCOUNT') })));
      expect(byType.Items?.map((i) => i.name)).toEqual([`${A} acc1`]);
      await db.send(new QueryCommand(queryInput({ pk: entityKey(A, 'ACCOUNT', 'acc1').PK })));
      await db.send(new PutCommand({ TableName: tableName(), Item: accountOf(A, 'acc2') }));
      await db.send(new UpdateCommand({ TableName: tableName(), Key: entityKey(A, 'ACCOUNT', 'acc2'), UpdateExpression: 'SET #n = :n', ExpressionAttributeNames: { '#n': 'name' }, ExpressionAttributeValues: { ':n': 'renamed' } }));
      const batch = await db.send(new BatchGetCommand({ RequestItems: { [tableName()]: { Keys: [entityKey(A, 'ACCOUNT', 'acc1'), entityKey(A, 'ACCOUNT', 'acc2')] } } }));
      expect(batch.Responses?.[tableName()]).toHaveLength(2);
      await db.send(new TransactWriteCommand({ TransactItems: [{ Put: { TableName: tableName(), Item: accountOf(A, 'acc3') } }, { ConditionCheck: { TableName: tableName(), Key: entityKey(A, 'ACCOUNT', 'acc1'), ConditionExpression: 'attribute_exists(PK)' } }] }));
    });
    expect((await raw(entityKey(A, 'ACCOUNT', 'acc2')))?.name).toBe('renamed');
    expect(await raw(entityKey(A, 'ACCOUNT', 'acc3'))).toBeDefined();
  });

  it('a forged tenant id: every kind of request naming another tenant\'s key is refused and writes nothing', async () => {
    const foreign = entityKey(B, 'ACCOUNT', 'acc1');
    const attempts = [
      new GetCommand({ TableName: tableName(), Key: foreign }),
      new QueryCommand(queryInput({ pk: foreign.PK })),
      new QueryCommand(queryInput({ index: 'byType', pk: typePartition(B, 'ACCOUNT') })),
      new PutCommand({ TableName: tableName(), Item: accountOf(B, 'forged') }),
      new UpdateCommand({ TableName: tableName(), Key: foreign, UpdateExpression: 'SET #n = :n', ExpressionAttributeNames: { '#n': 'name' }, ExpressionAttributeValues: { ':n': 'pwned' } }),
      new BatchGetCommand({ RequestItems: { [tableName()]: { Keys: [entityKey(A, 'ACCOUNT', 'acc1'), foreign] } } }),
      new BatchWriteCommand({ RequestItems: { [tableName()]: [{ PutRequest: { Item: accountOf(A, 'ok') } }, { PutRequest: { Item: accountOf(B, 'forged') } }] } }),
      // One foreign item in a transaction of own items: the whole transaction is refused.
      new TransactWriteCommand({ TransactItems: [{ Put: { TableName: tableName(), Item: accountOf(A, 'tx') } }, { Delete: { TableName: tableName(), Key: foreign } }] }),
      // A Scan names no partition key: it cannot be scoped, so it is refused.
      new ScanCommand({ TableName: tableName() }),
      // Keys outside every tenant are refused unless the scope shares them.
      new GetCommand({ TableName: tableName(), Key: { PK: `${SHARED_KEY_PREFIXES.apiKeyLookup}somehash`, SK: 'APIKEY' } }),
    ];
    for (const command of attempts) {
      await expect(runAsTenant(A, () => db.send(command as never)), command.constructor.name).rejects.toMatchObject(refused);
    }
    expect((await raw(foreign))?.name).toBe(`${B} acc1`);
    expect(await raw(entityKey(B, 'ACCOUNT', 'forged'))).toBeUndefined();
    expect(await raw(entityKey(A, 'ACCOUNT', 'tx'))).toBeUndefined();
    expect(await raw(entityKey(A, 'ACCOUNT', 'ok'))).toBeUndefined();
  });

  it('a shared prefix is reachable only by a scope that names it', async () => {
    const lookup = { PK: `${SHARED_KEY_PREFIXES.apiKeyLookup}hash1`, SK: 'APIKEY' };
    await runAsTenant(A, () => db.send(new PutCommand({ TableName: tableName(), Item: lookup })), [SHARED_KEY_PREFIXES.apiKeyLookup]);
    expect(await raw(lookup)).toBeDefined();
  });

  it('outside any scope (jobs, consumers) nothing is refused', async () => {
    expect((await db.send(new GetCommand({ TableName: tableName(), Key: entityKey(B, 'ACCOUNT', 'acc1') }))).Item).toBeDefined();
  });

  it('for any two tenants, one tenant\'s keys are never within the other\'s scope', () => {
    const tenant = fc.stringMatching(/^[A-Za-z0-9_.@-]{1,20}$/);
    fc.assert(
      fc.property(tenant, tenant, fc.string({ maxLength: 20 }), (a, b, rest) => {
        fc.pre(a !== b);
        const key = entityKey(b, 'ACCOUNT', rest || 'x');
        expect(() => assertWithinTenant({ tenantId: a, shared: [] }, 'GetCommand', { Key: key })).toThrow(/outside tenant/);
        expect(() => assertWithinTenant({ tenantId: b, shared: [] }, 'GetCommand', { Key: key })).not.toThrow();
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});

describe('the cloud provider (STS mocked at the edge)', () => {
  const ROLE = 'arn:aws:iam::123456789012:role/CrmApi-HttpAccountsTenantTableRole';

  function fakeSts(expiresInMs: number, clock: { at: number }) {
    const calls: AssumeRoleInput[] = [];
    const sts: StsPort = {
      async assumeRole(input) {
        calls.push(input);
        const n = calls.length;
        return { Credentials: { AccessKeyId: `AKIA${n}`, SecretAccessKey: 'secret', SessionToken: `token${n}`, Expiration: new Date(clock.at + expiresInMs) } };
      },
    };
    return { sts, calls };
  }

  it('asks AssumeRole for the tenant role with the tenant as its one session tag, for an hour', () => {
    expect(assumeRoleInput(ROLE, 'acme')).toEqual({
      RoleArn: ROLE,
      RoleSessionName: 'tenant-acme',
      DurationSeconds: 3600,
      Tags: [{ Key: 'tenant', Value: 'acme' }],
    });
    // No TransitiveTagKeys: the session assumes no further role. A long tenant id is cut to STS's 64 characters.
    expect(assumeRoleInput(ROLE, 'x'.repeat(128)).RoleSessionName).toHaveLength(64);
  });

  it('caches a tenant\'s client until shortly before its credentials expire; one call for concurrent requests', async () => {
    const clock = { at: Date.parse('2026-01-01T00:00:00Z') };
    const { sts, calls } = fakeSts(3600_000, clock);
    const made: unknown[] = [];
    const provider = stsClientProvider({
      roleArn: ROLE,
      sts,
      now: () => new Date(clock.at),
      clientOf: (credentials) => {
        made.push(credentials);
        return { credentials } as unknown as DynamoDBDocumentClient;
      },
    });
    const [one, two] = await Promise.all([provider.clientFor('acme'), provider.clientFor('acme')]);
    expect(one).toBe(two);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual(assumeRoleInput(ROLE, 'acme'));
    expect(made[0]).toMatchObject({ accessKeyId: 'AKIA1', sessionToken: 'token1' });

    await provider.clientFor('globex');
    expect(calls.map((c) => c.Tags)).toEqual([[{ Key: 'tenant', Value: 'acme' }], [{ Key: 'tenant', Value: 'globex' }]]);

    clock.at += 3600_000 - RENEW_BEFORE_MS - 1;
    expect(await provider.clientFor('acme')).toBe(one);
    expect(calls).toHaveLength(2);
    clock.at += 1;
    expect(await provider.clientFor('acme')).not.toBe(one);
    expect(calls).toHaveLength(3);
  });

  it('a failed AssumeRole is not remembered', async () => {
    let fail = true;
    const sts: StsPort = {
      async assumeRole() {
        if (fail) throw Object.assign(new Error('denied'), { name: 'AccessDenied' });
        return { Credentials: { AccessKeyId: 'AKIA', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3600_000) } };
      },
    };
    const provider = stsClientProvider({ roleArn: ROLE, sts, clientOf: () => ({}) as DynamoDBDocumentClient });
    await expect(provider.clientFor('acme')).rejects.toThrow('denied');
    fail = false;
    await expect(provider.clientFor('acme')).resolves.toBeDefined();
  });

  it('inside a scope, `db` sends through the tenant\'s client', async () => {
    const sent: unknown[] = [];
    const tenantClient = { send: async (command: { input: unknown }) => (sent.push(command.input), { Item: { from: 'tenant client' } }) };
    setTenantClientProvider({ clientFor: async () => tenantClient as unknown as DynamoDBDocumentClient });
    const out = await runAsTenant(A, () => db.send(new GetCommand({ TableName: tableName(), Key: entityKey(A, 'ACCOUNT', 'acc1') })));
    expect(out.Item).toEqual({ from: 'tenant client' });
    expect(sent).toHaveLength(1);
  });
});
