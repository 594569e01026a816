/** The API and workers stacks: function defaults, scheduled jobs, consumers, the outbox relay, DLQs and their alarms. */
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_EVENT_TYPES, EVENT_SOURCE, consumers } from '#events/consumers.ts';
import { schedules, toAwsCron } from '#events/schedules.ts';
import { httpFunctions } from '#functions/routes.ts';
import type { CrmApp } from '#infra/build-app.ts';
import type { CrmFunction } from '#infra/crm-function.ts';
import { allStatements, asArray, buildTestApp, computeTemplate, logicalIdOf, resourcesOfType, type CfnResource, type CfnTemplate } from './support.ts';

let app: CrmApp;
let t: CfnTemplate;

beforeAll(() => {
  app = buildTestApp({ nag: false });
  t = computeTemplate(app);
}, 180_000);

const fnId = (fn: CrmFunction) => logicalIdOf(fn.fn);
// The stacks by what they hold: HTTP functions in CrmApi, jobs and consumers in CrmWorkers.
const compute = {
  get httpHandlers() { return app.api.httpHandlers; },
  get authorizer() { return app.api.authorizerHandler; },
  get jobs() { return app.workers.jobs; },
  get consumerHandlers() { return app.workers.consumerHandlers; },
  get mailEvents() { return app.workers.mailEvents; },
  get outboxRelay() { return app.workers.outboxRelay; },
};
const getAttId = (v: any): string => v['Fn::GetAtt'][0];

describe('every Lambda function', () => {
  it('exists once per HTTP function, /health, the authorizer, job, consumer, the outbox relay and the SES events consumer', () => {
    const expected = Object.keys(httpFunctions).length + 1 + 1 + schedules.length + consumers.length + 1 + 1;
    expect(resourcesOfType(t, 'AWS::Lambda::Function')).toHaveLength(expected);
  });

  it('runs Node 22 on arm64 and logs to its own log group with a retention', () => {
    for (const [id, r] of resourcesOfType(t, 'AWS::Lambda::Function')) {
      const p = r.Properties!;
      expect(p.Runtime, id).toBe('nodejs22.x');
      expect(p.Architectures, id).toEqual(['arm64']);
      expect(p.MemorySize, id).toBeGreaterThanOrEqual(512);
      const logGroup = t.Resources[p.LoggingConfig.LogGroup.Ref] as CfnResource;
      expect(logGroup.Type, id).toBe('AWS::Logs::LogGroup');
      expect(logGroup.Properties!.RetentionInDays, id).toBeGreaterThan(0);
    }
  });

  it('gets the table, bus, service name, source maps and the cursor key\'s ARN from its environment (and only the mail senders, link checkers, the docs and imports functions more; HTTP functions with table access their tenant role)', () => {
    const extra: Record<string, string[]> = {
      [fnId(compute.httpHandlers.public)]: ['MARKETING_TOKEN_SECRET_ARN'],
      // Where the document and the reference page's files are: the stack's S3 assets (functions/openapi/assets.ts).
      [fnId(compute.httpHandlers.docs)]: ['DOCS_BUCKET', 'DOCS_OBJECTS'],
      // The bucket of large CSV uploads (domain/integrations/upload-store.ts).
      [fnId(compute.httpHandlers.imports)]: ['IMPORT_UPLOADS_BUCKET'],
      [fnId(compute.jobs['campaign-dispatch']!)]: ['MAIL_TRANSPORT', 'MARKETING_TOKEN_SECRET_ARN', 'PUBLIC_BASE_URL', 'SES_CONFIGURATION_SET'],
      // Workflow emails carry no public-route links: the mail port only.
      [fnId(compute.jobs['workflow-runner']!)]: ['MAIL_TRANSPORT', 'SES_CONFIGURATION_SET'],
      [fnId(compute.consumerHandlers.workflows!)]: ['MAIL_TRANSPORT', 'SES_CONFIGURATION_SET'],
      [fnId(compute.consumerHandlers.surveys!)]: ['MAIL_TRANSPORT', 'MARKETING_TOKEN_SECRET_ARN', 'PUBLIC_BASE_URL', 'SES_CONFIGURATION_SET'],
      // The authorizer verifies the user pool's ID tokens and keeps keys in memory for a while.
      [fnId(compute.authorizer)]: ['AUTH_CACHE_TTL_SECONDS', 'USER_POOL_CLIENT_ID', 'USER_POOL_ID'],
    };
    // Table access as the caller's tenant: the role to assume (infra/crm-function.ts grantTenantScopedTable).
    // The KMS key of sealed signing secrets, where they are sealed or opened (domain/secrets/envelope.ts).
    const add = (fn: CrmFunction, ...names: string[]) => (extra[fnId(fn)] = [...(extra[fnId(fn)] ?? []), ...names]);
    for (const [name, def] of Object.entries(httpFunctions)) {
      const fn = compute.httpHandlers[name as keyof typeof httpFunctions];
      if (def.tableActions.length) add(fn, 'TENANT_TABLE_ROLE_ARN');
      if ((def as { secrets?: string }).secrets) add(fn, 'SECRETS_KMS_KEY_ID');
    }
    for (const s of schedules) if (s.opensSecrets) add(compute.jobs[s.name]!, 'SECRETS_KMS_KEY_ID');
    for (const c of consumers) if (c.opensSecrets) add(compute.consumerHandlers[c.name]!, 'SECRETS_KMS_KEY_ID');
    for (const [id, r] of resourcesOfType(t, 'AWS::Lambda::Function')) {
      const env = r.Properties!.Environment.Variables;
      expect(Object.keys(env).sort(), id).toEqual(
        ['CURSOR_SECRET_ARN', 'EVENT_BUS_NAME', 'POWERTOOLS_SERVICE_NAME', 'TABLE_NAME', ...(extra[id] ?? [])].sort(),
      );
      // No source map ships (infra/crm-function.ts BUNDLING), so no `--enable-source-maps` either.
      expect(env.NODE_OPTIONS).toBeUndefined();
      // A secret's ARN, never its value: no dynamic reference is resolved into the configuration.
      expect(JSON.stringify(env), id).not.toContain('{{resolve:secretsmanager:');
      expect(JSON.stringify(env.CURSOR_SECRET_ARN)).toContain('CursorSigningKey');
    }
  });

  it('may read exactly the secrets it is given: the cursor key, and the link key where it signs or checks links', () => {
    const secretReads = new Map<string, string[]>();
    for (const { statement } of allStatements(t)) {
      if (!asArray(statement.Action).some((a) => a.startsWith('secretsmanager:'))) continue;
      expect(asArray(statement.Action)).toEqual(['secretsmanager:GetSecretValue']);
      expect(asArray(statement.Resource)).toHaveLength(1);
    }
    for (const [id, r] of resourcesOfType(t, 'AWS::IAM::Policy')) {
      const reads = asArray<any>(r.Properties!.PolicyDocument.Statement)
        .filter((s) => asArray<string>(s.Action).includes('secretsmanager:GetSecretValue'))
        .map((s) => (JSON.stringify(s.Resource).includes('MarketingTokenKey') ? 'link' : 'cursor'));
      secretReads.set(id, reads.sort());
    }
    for (const [id, r] of resourcesOfType(t, 'AWS::Lambda::Function')) {
      const env = r.Properties!.Environment.Variables;
      const policyId = resourcesOfType(t, 'AWS::IAM::Policy').find(([, p]) => asArray<any>(p.Properties!.Roles).some((role) => role.Ref === r.Properties!.Role['Fn::GetAtt'][0]))?.[0];
      expect(secretReads.get(policyId!), id).toEqual(env.MARKETING_TOKEN_SECRET_ARN ? ['cursor', 'link'] : ['cursor']);
    }
  });
});

describe('dead-letter queues', () => {
  it('are encrypted, TLS-only, and each has an alarm on visible messages > 0', () => {
    const queues = resourcesOfType(t, 'AWS::SQS::Queue');
    // One per job, one per consumer, one for the outbox relay.
    expect(queues).toHaveLength(schedules.length + consumers.length + 1 + 1); // + the SES events consumer's
    const alarms = resourcesOfType(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!);
    const policies = resourcesOfType(t, 'AWS::SQS::QueuePolicy').map(([, p]) => p.Properties!);
    for (const [id, q] of queues) {
      expect(q.Properties!.SqsManagedSseEnabled, id).toBe(true);
      const policy = policies.find((p) => p.Queues.some((ref: any) => ref.Ref === id));
      expect(
        policy?.PolicyDocument.Statement.some(
          (s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
        ),
        `${id} enforces TLS`,
      ).toBe(true);
      const alarm = alarms.find((a) => a.Dimensions?.some((d: any) => d.Name === 'QueueName' && getAttId(d.Value) === id));
      expect(alarm, `${id} alarm`).toBeDefined();
      expect(alarm).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
      });
    }
  });
});

describe('scheduled jobs', () => {
  it('each schedule invokes its job on the AWS form of its cron, with a retry policy and a DLQ', () => {
    const scheduled = resourcesOfType(t, 'AWS::Scheduler::Schedule').map(([, s]) => s.Properties!);
    expect(scheduled).toHaveLength(schedules.length);
    for (const s of schedules) {
      const job = compute.jobs[s.name]!;
      const sch = scheduled.find((p) => getAttId(p.Target.Arn) === fnId(job));
      expect(sch, s.name).toBeDefined();
      expect(sch!.ScheduleExpression).toBe(toAwsCron(s.cron));
      expect(sch!.ScheduleExpressionTimezone).toBe('Etc/UTC');
      expect(sch!.State).toBe('ENABLED');
      expect(sch!.Target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
      expect(sch!.Target.RetryPolicy.MaximumEventAgeInSeconds).toBeGreaterThan(0);
      expect(t.Resources[getAttId(sch!.Target.DeadLetterConfig.Arn)]!.Type).toBe('AWS::SQS::Queue');
      // The job runs as of its scheduled time, like POST /_local/jobs/{job} {"now"}.
      expect(JSON.parse(sch!.Target.Input)).toEqual({ now: '<aws.scheduler.scheduled-time>' });
    }
  });

  it('each job has its reserved concurrency and timeout, and sends failed runs to its DLQ', () => {
    const invokeConfigs = resourcesOfType(t, 'AWS::Lambda::EventInvokeConfig').map(([, c]) => c.Properties!);
    for (const s of schedules) {
      const id = fnId(compute.jobs[s.name]!);
      const p = t.Resources[id]!.Properties!;
      expect(p.ReservedConcurrentExecutions, s.name).toBe(s.reservedConcurrency);
      expect(p.Timeout, s.name).toBe(s.timeoutSeconds);
      const cfg = invokeConfigs.find((c) => c.FunctionName.Ref === id);
      expect(t.Resources[getAttId(cfg!.DestinationConfig.OnFailure.Destination)]!.Type).toBe('AWS::SQS::Queue');
    }
  });
});

describe('event consumers', () => {
  it('each consumer has a rule on the bus for its event types, with retries and a DLQ', () => {
    const rules = resourcesOfType(t, 'AWS::Events::Rule').map(([, r]) => r.Properties!).filter((r) => r.EventPattern.source[0] !== 'aws.ses');
    expect(rules).toHaveLength(consumers.length);
    for (const c of consumers) {
      const id = fnId(compute.consumerHandlers[c.name]!);
      const rule = rules.find((r) => r.Targets.some((tg: any) => getAttId(tg.Arn) === id));
      expect(rule, c.name).toBeDefined();
      expect(JSON.stringify(rule!.EventBusName)).toMatch(/Bus/);
      // A consumer of every event type (webhooks) matches on the source alone.
      expect(rule!.EventPattern).toEqual(c.eventTypes === ALL_EVENT_TYPES ? { source: [EVENT_SOURCE] } : { source: [EVENT_SOURCE], 'detail-type': c.eventTypes });
      const target = rule!.Targets[0];
      expect(target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
      expect(target.RetryPolicy.MaximumEventAgeInSeconds).toBeGreaterThan(0);
      expect(t.Resources[getAttId(target.DeadLetterConfig.Arn)]!.Type).toBe('AWS::SQS::Queue');
    }
  });
});

describe('mail', () => {
  it('SES events of the CRM configuration set (bounce, complaint, delivery) reach the mail-events consumer from the default bus', () => {
    const [, set] = resourcesOfType(t, 'AWS::SES::ConfigurationSet')[0]!;
    expect(set).toBeDefined();
    const [, dest] = resourcesOfType(t, 'AWS::SES::ConfigurationSetEventDestination')[0]!;
    expect(dest.Properties!.EventDestination.MatchingEventTypes.sort()).toEqual(['bounce', 'complaint', 'delivery']);
    expect(JSON.stringify(dest.Properties!.EventDestination.EventBridgeDestination)).toContain('event-bus/default');
    const sesRules = resourcesOfType(t, 'AWS::Events::Rule').map(([, r]) => r.Properties!).filter((r) => r.EventPattern.source[0] === 'aws.ses');
    expect(sesRules).toHaveLength(1);
    expect(sesRules[0]!.EventBusName).toBeUndefined();
    expect(getAttId(sesRules[0]!.Targets[0].Arn)).toBe(fnId(compute.mailEvents));
    expect(sesRules[0]!.Targets[0].DeadLetterConfig).toBeDefined();
  });

  it('the dispatch job sends through SES with the configuration set, the token key and the public base URL', () => {
    const fn = t.Resources[fnId(compute.jobs['campaign-dispatch']!)]!.Properties!;
    expect(fn.Environment.Variables).toMatchObject({ MAIL_TRANSPORT: 'ses' });
    for (const k of ['SES_CONFIGURATION_SET', 'MARKETING_TOKEN_SECRET_ARN', 'PUBLIC_BASE_URL']) expect(fn.Environment.Variables[k], k).toBeDefined();
    const publicFn = t.Resources[fnId(compute.httpHandlers.public)]!.Properties!;
    expect(publicFn.Environment.Variables.MARKETING_TOKEN_SECRET_ARN).toBeDefined();
    expect(t.Resources[fnId(compute.httpHandlers.campaigns)]!.Properties!.Environment.Variables.MARKETING_TOKEN_SECRET_ARN).toBeUndefined();
  });
});

describe('outbox relay', () => {
  it('reads the table stream, INSERTs of OUTBOX items only, with partial-batch failures and a DLQ', () => {
    const mappings = resourcesOfType(t, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties!);
    expect(mappings).toHaveLength(1);
    const m = mappings[0]!;
    expect(m.FunctionName).toEqual({ Ref: fnId(compute.outboxRelay) });
    expect(JSON.stringify(m.EventSourceArn)).toContain('StreamArn');
    expect(m.BatchSize).toBe(100);
    expect(m.BisectBatchOnFunctionError).toBe(true);
    expect(m.MaximumRetryAttempts).toBe(10);
    expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(m.FilterCriteria.Filters.map((f: any) => JSON.parse(f.Pattern))).toEqual([
      { eventName: ['INSERT'], dynamodb: { Keys: { SK: { S: [{ prefix: 'OUTBOX' }] } } } },
    ]);
    expect(t.Resources[getAttId(m.DestinationConfig.OnFailure.Destination)]!.Type).toBe('AWS::SQS::Queue');
  });
});

describe('outputs', () => {
  it('exports the API URL, user pool, client, table and bus names', () => {
    // Besides them, CDK's own cross-stack exports (the workers read the API's endpoint for links in mail).
    const named = Object.keys(t.Outputs ?? {}).filter((k) => !k.startsWith('ExportsOutput'));
    expect(named.sort()).toEqual(
      ['ApiUrl', 'EventBusName', 'TableName', 'UserPoolClientId', 'UserPoolId'].sort(),
    );
  });
});
