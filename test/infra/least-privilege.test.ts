/** IAM: no wildcard actions, no `*` resources on DynamoDB, each function exactly its declared table actions. */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { indexes } from '#domain/table/definition.ts';
import { consumers } from '#events/consumers.ts';
import { schedules } from '#events/schedules.ts';
import { httpFunctions, type TableAction } from '#functions/routes.ts';
import type { CrmApp } from '#infra/build-app.ts';
import type { CrmFunction } from '#infra/crm-function.ts';
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

/** The DynamoDB table actions in the role policy of one CrmFunction, statement by statement. */
function tableStatements(fn: CrmFunction) {
  const t = templates.compute!;
  const roleId = logicalIdOf(fn.role);
  expect(t.Resources[roleId]!.Properties!.ManagedPolicyArns, 'no AWS managed policies').toBeUndefined();
  const policies = resourcesOfType(t, 'AWS::IAM::Policy').filter(([, p]) =>
    asArray<any>(p.Properties!.Roles).some((r) => r.Ref === roleId),
  );
  return policies
    .flatMap(([, p]) => asArray<any>(p.Properties!.PolicyDocument.Statement))
    .filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('dynamodb:')))
    .filter((s) => !JSON.stringify(s.Resource).includes('StreamArn'));
}

function expectExactlyTableActions(fn: CrmFunction, declared: TableAction[]) {
  const statements = tableStatements(fn);
  expect(statements, `${fn.node.path}: one table statement`).toHaveLength(1);
  const s = statements[0];
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

  it('each HTTP function may use exactly its declared table actions', () => {
    for (const [name, def] of Object.entries(httpFunctions)) {
      const fn = compute.httpHandlers[name as keyof typeof httpFunctions];
      // No declared action (the docs function): no table statement at all.
      if (def.tableActions.length === 0) expect(tableStatements(fn), name).toEqual([]);
      else expectExactlyTableActions(fn, def.tableActions);
    }
  });

  it('each job and consumer may use exactly its declared table actions', () => {
    for (const s of schedules) expectExactlyTableActions(compute.jobs[s.name]!, s.tableActions);
    for (const c of consumers) expectExactlyTableActions(compute.consumerHandlers[c.name]!, c.tableActions);
  });

  it('the outbox relay may GetItem and UpdateItem, and read the stream', () => {
    expectExactlyTableActions(compute.outboxRelay, ['dynamodb:GetItem', 'dynamodb:UpdateItem']);
  });

  it('the authorizer may only GetItem (one lookup item per API key)', () => {
    expectExactlyTableActions(compute.authorizerHandler, ['dynamodb:GetItem']);
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
