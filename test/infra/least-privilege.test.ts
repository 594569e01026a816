/**
 * IAM: no wildcard actions, no `*` resources on DynamoDB, each function exactly its declared table
 * actions; HTTP functions reach the table only through a role assumed per tenant, whose access is
 * conditioned on dynamodb:LeadingKeys `T#${aws:PrincipalTag/tenant}#*` (issue 11 point 5).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { indexes } from '#domain/table/definition.ts';
import { consumers } from '#events/consumers.ts';
import { schedules } from '#events/schedules.ts';
import { httpFunctions, type TableAction } from '#functions/routes.ts';
import type { CrmApp } from '#infra/build-app.ts';
import type { CrmFunction } from '#infra/crm-function.ts';
import { WORKER_LEADING_KEYS } from '#infra/workers-stack.ts';
import { SHARED_KEY_PREFIXES } from '#domain/table/tenant-scope.ts';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { allStatements, asArray, buildTestApp, computeTemplate, logicalIdOf, resourcesOfType, type CfnTemplate } from './support.ts';

let app: CrmApp;
let templates: Record<string, CfnTemplate>;

beforeAll(() => {
  app = buildTestApp({ nag: false });
  templates = {
    state: Template.fromStack(app.state).toJSON() as CfnTemplate,
    compute: computeTemplate(app),
  };
}, 180_000);

const compute = {
  get httpHandlers() { return app.api.httpHandlers; },
  get healthHandler() { return app.api.healthHandler; },
  get authorizerHandler() { return app.api.authorizerHandler; },
  get jobs() { return app.workers.jobs; },
  get consumerHandlers() { return app.workers.consumerHandlers; },
  get outboxRelay() { return app.workers.outboxRelay; },
};

/** The DynamoDB table actions in the policy of one role (default: the function's own), statement by statement. */
function tableStatements(fn: CrmFunction, role: IConstruct & { node: { defaultChild?: unknown } } = fn.role) {
  const t = templates.compute!;
  const roleId = logicalIdOf(role);
  expect(t.Resources[roleId]!.Properties!.ManagedPolicyArns, 'no AWS managed policies').toBeUndefined();
  const policies = resourcesOfType(t, 'AWS::IAM::Policy').filter(([, p]) =>
    asArray<any>(p.Properties!.Roles).some((r) => r.Ref === roleId),
  );
  return policies
    .flatMap(([, p]) => asArray<any>(p.Properties!.PolicyDocument.Statement))
    .filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('dynamodb:')))
    .filter((s) => !JSON.stringify(s.Resource).includes('StreamArn'));
}

const leadingKeysOf = (s: any): string[] | undefined => s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];

/** The role a CrmFunction assumes per tenant (CrmFunction.grantTenantScopedTable). */
const tenantRoleOf = (fn: CrmFunction) => fn.node.findChild('TenantTableRole') as iam.Role;

function expectExactlyTableActions(fn: CrmFunction, declared: TableAction[], leadingKeys: string[], role?: iam.Role) {
  const statements = tableStatements(fn, role);
  expect(statements, `${fn.node.path}: one table statement`).toHaveLength(1);
  const s = statements[0];
  expect(leadingKeysOf(s), `${fn.node.path}: dynamodb:LeadingKeys`).toEqual(leadingKeys);
  expect(Object.keys(s.Condition), `${fn.node.path}: no other condition`).toEqual(['ForAllValues:StringLike']);
  expect(s.Effect).toBe('Allow');
  expect(asArray<string>(s.Action).sort()).toEqual([...new Set(declared)].sort());
  // The table itself plus each index of the definition, nothing else.
  const resources = asArray<any>(s.Resource).map((r) => JSON.stringify(r));
  expect(resources).toHaveLength(1 + Object.keys(indexes).length);
  expect(resources[0]).toMatch(/Table.*Arn/);
  for (const name of Object.keys(indexes)) expect(resources.some((r) => r.includes(`/index/${name}"`)), name).toBe(true);
}

describe('least privilege', () => {
  it('no statement anywhere grants `*` or `dynamodb:*`, and no DynamoDB statement has Resource `*`', () => {
    const offenders: string[] = [];
    for (const [stack, t] of Object.entries(templates)) {
      for (const { where, statement } of allStatements(t)) {
        const actions = asArray(statement.Action);
        const resources = asArray(statement.Resource as unknown);
        if (actions.some((a) => a === '*' || a === 'dynamodb:*')) offenders.push(`${stack}/${where}: action ${actions}`);
        if (statement.Effect === 'Allow' && resources.includes('*')) offenders.push(`${stack}/${where}: Resource * for ${actions}`);
        if (actions.some((a) => a.startsWith('dynamodb:')) && resources.includes('*'))
          offenders.push(`${stack}/${where}: dynamodb on Resource *`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('each HTTP function may use exactly its declared table actions, and only as one tenant: LeadingKeys T#${aws:PrincipalTag/tenant}#*', () => {
    for (const [name, def] of Object.entries(httpFunctions) as [keyof typeof httpFunctions, (typeof httpFunctions)[keyof typeof httpFunctions]][]) {
      const fn = compute.httpHandlers[name];
      // No declared action (the docs function): no table statement at all.
      if (def.tableActions.length === 0) {
        expect(tableStatements(fn), name).toEqual([]);
        expect(fn.node.tryFindChild('TenantTableRole'), name).toBeUndefined();
        continue;
      }
      const shared = ('sharedKeys' in def ? def.sharedKeys : []).map((k) => `${SHARED_KEY_PREFIXES[k]}*`);
      expectExactlyTableActions(fn, def.tableActions, ['T#${aws:PrincipalTag/tenant}#*', ...shared], tenantRoleOf(fn));
    }
  });

  it("HTTP functions' own roles have no unconditioned table access (the intake function: GetItem of form pointers only)", () => {
    for (const [name, fn] of Object.entries(compute.httpHandlers)) {
      const own = tableStatements(fn);
      if (name === 'intake') {
        expect(own.map((s) => [s.Action, leadingKeysOf(s)]), name).toEqual([['dynamodb:GetItem', [`${SHARED_KEY_PREFIXES.formPointer}*`]]]);
      } else expect(own, name).toEqual([]);
    }
  });

  it('the tenant role trusts only its function\'s role, with the tenant session tag, and the function names it', () => {
    const t = templates.compute!;
    for (const [name, fn] of Object.entries(compute.httpHandlers)) {
      const role = fn.node.tryFindChild('TenantTableRole') as iam.Role | undefined;
      if (!role) continue;
      const trust = asArray<any>(t.Resources[logicalIdOf(role)]!.Properties!.AssumeRolePolicyDocument.Statement);
      expect(trust, name).toEqual([
        {
          Effect: 'Allow',
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Principal: { AWS: { 'Fn::GetAtt': [logicalIdOf(fn.role), 'Arn'] } },
          Condition: { StringLike: { 'aws:RequestTag/tenant': '?*' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['tenant'] } },
        },
      ]);
      expect(t.Resources[logicalIdOf(fn.fn)]!.Properties!.Environment.Variables.TENANT_TABLE_ROLE_ARN, name).toEqual({ 'Fn::GetAtt': [logicalIdOf(role), 'Arn'] });
      const assume = allStatements(t).filter(({ statement }) => asArray(statement.Action).includes('sts:AssumeRole') && JSON.stringify(statement.Resource).includes(logicalIdOf(role)));
      expect(assume.map(({ where }) => where), name).toEqual([logicalIdOf(fn.role.node.findChild('DefaultPolicy') as iam.Policy)]);
    }
  });

  it('every DynamoDB statement of every role is conditioned on dynamodb:LeadingKeys', () => {
    const unconditioned = allStatements(templates.compute!)
      .filter(({ statement }) => asArray(statement.Action).some((a) => a.startsWith('dynamodb:') && !a.startsWith('dynamodb:GetRecords')))
      .filter(({ statement }) => !JSON.stringify(statement.Resource).includes('StreamArn'))
      .filter(({ statement }) => !leadingKeysOf(statement))
      .map(({ where, statement }) => `${where}: ${asArray(statement.Action)}`);
    expect(unconditioned).toEqual([]);
  });

  it('each job and consumer may use exactly its declared table actions, on the keys workers use (T#, DUE#, JOB#)', () => {
    for (const s of schedules) expectExactlyTableActions(compute.jobs[s.name]!, s.tableActions, WORKER_LEADING_KEYS);
    for (const c of consumers) expectExactlyTableActions(compute.consumerHandlers[c.name]!, c.tableActions, WORKER_LEADING_KEYS);
  });

  it('the outbox relay may GetItem and UpdateItem, and read the stream', () => {
    expectExactlyTableActions(compute.outboxRelay, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], WORKER_LEADING_KEYS);
  });

  it('the authorizer may only GetItem, and only API key lookup items (it runs before any tenant is known)', () => {
    expectExactlyTableActions(compute.authorizerHandler, ['dynamodb:GetItem'], ['APIKEY#*']);
  });

  it('only the functions that seal or open signing secrets may use the KMS secrets key: seal → GenerateDataKey + Decrypt, open → Decrypt', () => {
    const t = templates.compute!;
    const expected = new Map<string, string[]>();
    for (const [name, def] of Object.entries(httpFunctions)) {
      const use = (def as { secrets?: 'seal' | 'open' }).secrets;
      if (use) expected.set(logicalIdOf(compute.httpHandlers[name as keyof typeof httpFunctions].role), use === 'seal' ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt']);
    }
    for (const s of schedules) if (s.opensSecrets) expected.set(logicalIdOf(compute.jobs[s.name]!.role), ['kms:Decrypt']);
    for (const c of consumers) if (c.opensSecrets) expected.set(logicalIdOf(compute.consumerHandlers[c.name]!.role), ['kms:Decrypt']);
    expect(expected.size, 'forms, webhooks, public; the webhooks consumer and webhook-retry job').toBe(5);

    const found = new Map<string, string[]>();
    for (const [, p] of resourcesOfType(t, 'AWS::IAM::Policy')) {
      for (const s of asArray<any>(p.Properties!.PolicyDocument.Statement)) {
        const actions = asArray<string>(s.Action);
        if (!actions.some((a) => a.startsWith('kms:'))) continue;
        expect(JSON.stringify(s.Resource)).toContain('SecretsKey');
        expect(s.Condition).toEqual({ 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['resource', 'tenant'] }, Null: { 'kms:EncryptionContext:tenant': 'false' } });
        for (const r of asArray<any>(p.Properties!.Roles)) found.set(r.Ref, actions);
      }
    }
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(expected));
  });

  it('/health has no table access', () => {
    expect(tableStatements(compute.healthHandler)).toEqual([]);
  });

  it('only the outbox relay and event-publishing jobs may put events on the bus', () => {
    const t = templates.compute!;
    const putters = resourcesOfType(t, 'AWS::IAM::Policy')
      .filter(([, p]) =>
        asArray<any>(p.Properties!.PolicyDocument.Statement).some((s) => asArray<string>(s.Action).includes('events:PutEvents')),
      )
      .flatMap(([, p]) => asArray<any>(p.Properties!.Roles).map((r) => r.Ref as string))
      .sort();
    const expected = [compute.outboxRelay, ...schedules.filter((s) => s.publishesEvents).map((s) => compute.jobs[s.name]!)]
      .map((fn) => logicalIdOf(fn.role))
      .sort();
    expect(putters).toEqual(expected);
  });
});
