/**
 * `npm run rebuild-aggregates -- --tenant T`: recomputes one tenant's analytics aggregates from
 * its records (domain/analytics/rebuild.ts), against the table of `DYNAMODB_ENDPOINT` (DynamoDB
 * Local; unset: AWS with the ambient credentials) and `TABLE_NAME`. Admin tooling: run it while
 * the tenant is quiet.
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { tenant: { type: 'string' } } });
if (!values.tenant) {
  process.stderr.write('usage: npm run rebuild-aggregates -- --tenant <tenantId>   (with TABLE_NAME and, locally, DYNAMODB_ENDPOINT)\n');
  process.exit(2);
}
const { rebuildAggregates } = await import('#domain/analytics/rebuild.ts');
const report = await rebuildAggregates(values.tenant);
process.stdout.write(`${JSON.stringify({ tenant: values.tenant, ...report })}\n`);
