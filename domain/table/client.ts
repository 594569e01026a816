/**
 * One DynamoDB document client per container, created at load time so a Lambda cold
 * start pays for it once. `DYNAMODB_ENDPOINT` points it at DynamoDB Local; in Lambda
 * it is unset and the SDK uses the regional endpoint and the function's role.
 *
 * `db` is what every use case imports. Inside a tenant scope (domain/table/tenant-scope.ts:
 * an HTTP request) its `send` goes through the scope's client, whose credentials reach only
 * that tenant's keys; and every request made in a scope passes the tenant key guard first.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { callStarted } from '#domain/table/request-stats.ts';
import { activeTenantScope, installTenantKeyGuard } from '#domain/table/tenant-scope.ts';

/** A document client configured as every client of the project is; `config` adds credentials (a tenant's). */
export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  const raw = new DynamoDBClient(
    endpoint
      ? {
          endpoint,
          region: process.env.AWS_REGION ?? 'us-east-1',
          // DynamoDB Local accepts any key made of letters and digits.
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
          ...config,
        }
      : config,
  );
  const client = DynamoDBDocumentClient.from(raw, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  installTenantKeyGuard(client);
  return client;
}

export const db = createDocumentClient();

// Inside a scope whose client is another (a tenant's credentials), `db.send` is that client's.
const sendDirect = db.send.bind(db);
// Each call is counted in the request's stats, if it has any (domain/table/request-stats.ts).
db.send = (async (command: Parameters<typeof sendDirect>[0], options?: Parameters<typeof sendDirect>[1]) => {
  const scoped = activeTenantScope()?.client;
  const ended = callStarted();
  let attempts: number | undefined;
  try {
    const out = await (scoped && scoped !== db ? scoped.send(command, options) : sendDirect(command, options));
    attempts = out.$metadata?.attempts;
    return out;
  } catch (err) {
    attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    throw err;
  } finally {
    ended(attempts);
  }
}) as typeof db.send;

/** Read per call: tests give each file its own table through the environment. */
export function tableName(): string {
  const name = process.env.TABLE_NAME;
  if (!name) throw new Error('TABLE_NAME is not set');
  return name;
}
