/**
 * Everything stateless: the HTTP API and its functions, the scheduled jobs, the event
 * consumers and the outbox relay. Routes, schedules and consumers come from the same
 * tables the local runtime reads (functions/routes.ts, events/schedules.ts,
 * events/consumers.ts), so the cloud and `npm start` cannot drift.
 */
import { CfnOutput, Duration, Stack, TimeZone, Validations, type StackProps } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { httpFunctions, routes, type HttpFunctionName } from '#functions/routes.ts';
import { schedules, toAwsCron } from '#events/schedules.ts';
import { EVENT_SOURCE, consumers } from '#events/consumers.ts';
import { outboxKey } from '#domain/table/keys.ts';
import { CrmFunction, functionEntry, type CrmFunctionProps } from './crm-function.ts';

export interface ComputeStackProps extends StackProps {
  table: dynamodb.ITableV2;
  userPool: cognito.IUserPool;
  userPoolClient: cognito.IUserPoolClient;
  bus: events.IEventBus;
  cursorSecret: secretsmanager.ISecret;
  /** Signs the tokens of public links (domain/marketing/tokens.ts). */
  marketingTokenSecret: secretsmanager.ISecret;
  /**
   * Where each function's entry file is (default functions/<kind>/<name>.ts). Tests that
   * skip bundling may point missing entries at a fixture; the template is the same.
   */
  entry?: EntryResolver;
}

export type EntryResolver = (kind: 'http' | 'jobs' | 'events', name: string) => string;

/** Outbox items' sort key, from the domain's key builder (domain/table/keys.ts): the stream filter matches it as a prefix. */
export const OUTBOX_SK_PREFIX = outboxKey('tenant', 'event').SK;

export class ComputeStack extends Stack {
  public readonly api: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  public readonly httpHandlers: Record<HttpFunctionName, CrmFunction>;
  public readonly healthHandler: CrmFunction;
  public readonly jobs: Record<string, CrmFunction>;
  public readonly consumerHandlers: Record<string, CrmFunction>;
  public readonly outboxRelay: CrmFunction;
  public readonly mailEvents: CrmFunction;
  public readonly mailConfigurationSet: ses.ConfigurationSet;

  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, props);
    const { table, bus, cursorSecret, userPool, userPoolClient, marketingTokenSecret } = props;
    const common = { table, bus, cursorSecret } satisfies Partial<CrmFunctionProps>;
    const entry = props.entry ?? functionEntry;

    // ---- HTTP API -------------------------------------------------------------------
    const corsOrigins: string[] = contextList(this, 'corsAllowOrigins') ?? ['*'];
    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: 'crm-api',
      createDefaultStage: false,
      // Auth is a bearer token in the Authorization header, never a cookie, so a wildcard
      // origin lets no other site ride a session. Narrow it with `-c corsAllowOrigins=...`.
      corsPreflight: {
        allowOrigins: corsOrigins,
        allowMethods: [
          apigwv2.CorsHttpMethod.GET,
          apigwv2.CorsHttpMethod.POST,
          apigwv2.CorsHttpMethod.PUT,
          apigwv2.CorsHttpMethod.PATCH,
          apigwv2.CorsHttpMethod.DELETE,
          apigwv2.CorsHttpMethod.OPTIONS,
        ],
        allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'if-match'],
        exposeHeaders: ['etag', 'location'],
        maxAge: Duration.hours(1),
      },
    });

    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention: logs.RetentionDays.THREE_MONTHS });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            responseLatency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
            userAgent: '$context.identity.userAgent',
          }),
        ),
      },
    });

    const authorizer = new HttpJwtAuthorizer(
      'CognitoJwt',
      `https://cognito-idp.${this.region}.amazonaws.com/${userPool.userPoolId}`,
      { jwtAudience: [userPoolClient.userPoolClientId], identitySource: ['$request.header.Authorization'] },
    );

    // Functions that sign or check public-link tokens get the key the way they get the cursor
    // key: a dynamic reference resolved at deploy time (integrity only; see crm-function.ts).
    const tokenEnv = { MARKETING_TOKEN_SECRET: marketingTokenSecret.secretValue.unsafeUnwrap() };

    // ---- Mail: SES v2 with a configuration set whose events go to EventBridge -----------
    this.mailConfigurationSet = new ses.ConfigurationSet(this, 'MailConfigurationSet', {
      sendingEnabled: true,
      reputationMetrics: true,
    });
    const mailEnv = { MAIL_TRANSPORT: 'ses', SES_CONFIGURATION_SET: this.mailConfigurationSet.configurationSetName };
    // SES publishes to the account's default bus; the mail-events consumer below applies them.
    this.mailConfigurationSet.addEventDestination('ToEventBridge', {
      destination: ses.EventDestination.eventBus(events.EventBus.fromEventBusName(this, 'DefaultBus', 'default')),
      events: [ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT, ses.EmailSendingEvent.DELIVERY],
    });

    const httpHandlers = {} as Record<HttpFunctionName, CrmFunction>;
    const integrations = {} as Record<HttpFunctionName, HttpLambdaIntegration>;
    for (const name of Object.keys(httpFunctions) as HttpFunctionName[]) {
      const fn = new CrmFunction(this, `Http${pascal(name)}`, {
        ...common,
        name,
        entry: entry('http', name),
        description: `HTTP: ${name}`,
        ...(('marketing' in httpFunctions[name] && httpFunctions[name].marketing) ? { environment: tokenEnv } : {}),
      });
      fn.grantTable(httpFunctions[name].tableActions);
      httpHandlers[name] = fn;
      // One invoke permission per function (scoped to this API), not one per route: per-route
      // permissions alone would pass CloudFormation's 500-resource limit of the stack.
      integrations[name] = new HttpLambdaIntegration(`${pascal(name)}Integration`, fn.fn, { scopePermissionToRoute: false });
    }
    this.httpHandlers = httpHandlers;

    for (const route of routes) {
      const [added] = this.api.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration: integrations[route.fn],
        // Public routes prove themselves by the signed token in their path.
        ...(route.public ? {} : { authorizer }),
      });
      if (route.public && added) {
        Validations.of(added).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            `${route.method} ${route.path} is opened from an email by someone with no account (unsubscribe, open pixel, ` +
            'click redirect); it is authorized by an HMAC-signed token in the path, checked by its function, which has no identity.',
        });
      }
    }

    // Unauthenticated liveness probe: not in the route table on purpose.
    this.healthHandler = new CrmFunction(this, 'HttpHealth', {
      ...common,
      name: 'health',
      entry: entry('http', 'health'),
      description: 'HTTP: unauthenticated health check',
    });
    const [healthRoute] = this.api.addRoutes({
      path: '/health',
      methods: [apigwv2.HttpMethod.GET],
      integration: new HttpLambdaIntegration('HealthIntegration', this.healthHandler.fn),
    });
    if (healthRoute) {
      Validations.of(healthRoute).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'GET /health is a deliberately public liveness probe for load balancers and uptime checks; it reads ' +
          'no data and returns a constant body. Every other route uses the Cognito JWT authorizer.',
      });
    }

    // ---- Scheduled jobs ------------------------------------------------------------
    this.jobs = {};
    for (const s of schedules) {
      const id = `Job${pascal(s.name)}`;
      const fn = new CrmFunction(this, id, {
        ...common,
        name: s.name,
        entry: entry('jobs', s.name),
        description: `Job: ${s.description}`,
        timeout: Duration.seconds(s.timeoutSeconds),
        reservedConcurrentExecutions: s.reservedConcurrency,
        ...(s.sendsMail || s.signsLinks
          ? { environment: { ...(s.sendsMail ? mailEnv : {}), ...(s.signsLinks ? { ...tokenEnv, PUBLIC_BASE_URL: this.api.apiEndpoint } : {}) } }
          : {}),
      });
      fn.grantTable(s.tableActions);
      if (s.sendsMail) grantSendMail(fn, this.mailConfigurationSet);
      if (s.publishesEvents) bus.grantPutEventsTo(fn.fn);

      const dlq = deadLetterQueue(this, `${id}Dlq`, `scheduled invocations and failed runs of ${s.name}`);
      // Scheduler invokes asynchronously; a failed run is not retried (the next tick redoes
      // the work: jobs are idempotent and resumable) but lands in the DLQ so the alarm fires.
      fn.fn.configureAsyncInvoke({
        retryAttempts: 0,
        maxEventAge: Duration.hours(1),
        onFailure: new destinations.SqsDestination(dlq),
      });
      new scheduler.Schedule(this, `${id}Schedule`, {
        description: s.description,
        schedule: scheduler.ScheduleExpression.expression(toAwsCron(s.cron), TimeZone.ETC_UTC),
        target: new schedulerTargets.LambdaInvoke(fn.fn, {
          // The job runs "as of" its scheduled time, exactly like `POST /_local/jobs/{job} {"now"}`.
          input: scheduler.ScheduleTargetInput.fromObject({ now: scheduler.ContextAttribute.scheduledTime }),
          role: schedulerRole(fn),
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: dlq,
        }),
      });
      this.jobs[s.name] = fn;
    }

    // ---- Event consumers -----------------------------------------------------------
    this.consumerHandlers = {};
    for (const c of consumers) {
      const id = `Consumer${pascal(c.name)}`;
      const fn = new CrmFunction(this, id, {
        ...common,
        name: c.name,
        entry: entry('events', c.name),
        description: `Consumer: ${c.name}`,
        timeout: Duration.seconds(30),
        ...(c.sendsMail || c.signsLinks
          ? { environment: { ...(c.sendsMail ? mailEnv : {}), ...(c.signsLinks ? { ...tokenEnv, PUBLIC_BASE_URL: this.api.apiEndpoint } : {}) } }
          : {}),
      });
      fn.grantTable(c.tableActions);
      if (c.sendsMail) grantSendMail(fn, this.mailConfigurationSet);

      const dlq = deadLetterQueue(this, `${id}Dlq`, `undeliverable or failed ${c.name} events`);
      // EventBridge → Lambda is asynchronous: the rule's DLQ catches events it could not
      // deliver, the async-invoke destination catches events the handler failed on.
      fn.fn.configureAsyncInvoke({
        retryAttempts: 2,
        maxEventAge: Duration.hours(6),
        onFailure: new destinations.SqsDestination(dlq),
      });
      new events.Rule(this, `${id}Rule`, {
        eventBus: bus,
        description: `Domain events for ${c.name}`,
        eventPattern: { source: [EVENT_SOURCE], detailType: c.eventTypes },
        targets: [
          new eventsTargets.LambdaFunction(fn.fn, {
            retryAttempts: 8,
            maxEventAge: Duration.hours(24),
            deadLetterQueue: dlq,
          }),
        ],
      });
      this.consumerHandlers[c.name] = fn;
    }

    // ---- Outbox relay: table stream → bus ------------------------------------------
    this.outboxRelay = new CrmFunction(this, 'OutboxRelay', {
      ...common,
      name: 'outbox-relay',
      entry: entry('events', 'outbox-relay'),
      description: 'Delivers outbox items from the table stream to the event bus',
      timeout: Duration.seconds(60),
    });
    this.outboxRelay.grantTable(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    bus.grantPutEventsTo(this.outboxRelay.fn);
    const relayDlq = deadLetterQueue(this, 'OutboxRelayDlq', 'stream batches the outbox relay could not deliver');
    this.outboxRelay.fn.addEventSource(
      new eventSources.DynamoEventSource(table, {
        // TRIM_HORIZON: nothing written before the mapping existed is skipped.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        bisectBatchOnError: true,
        retryAttempts: 10,
        reportBatchItemFailures: true,
        onFailure: new eventSources.SqsDlq(relayDlq),
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { Keys: { SK: { S: lambda.FilterRule.beginsWith(OUTBOX_SK_PREFIX) } } },
          }),
        ],
      }),
    );

    // ---- SES events (bounce, complaint, delivery) from the default bus ----------------
    this.mailEvents = new CrmFunction(this, 'MailEvents', {
      ...common,
      name: 'mail-events',
      entry: entry('events', 'mail-events'),
      description: 'Applies SES bounces, complaints and deliveries (domain/marketing/tracking.ts applyMailEvent)',
      timeout: Duration.seconds(30),
    });
    this.mailEvents.grantTable(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem']);
    const mailEventsDlq = deadLetterQueue(this, 'MailEventsDlq', 'SES events the mail-events consumer could not apply');
    this.mailEvents.fn.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6), onFailure: new destinations.SqsDestination(mailEventsDlq) });
    new events.Rule(this, 'MailEventsRule', {
      description: 'SES sending events of the CRM configuration set',
      eventPattern: {
        source: ['aws.ses'],
        detailType: ['Email Bounced', 'Email Complaint Received', 'Email Delivered'],
        detail: { mail: { tags: { 'ses:configuration-set': [this.mailConfigurationSet.configurationSetName] } } },
      },
      targets: [new eventsTargets.LambdaFunction(this.mailEvents.fn, { retryAttempts: 8, maxEventAge: Duration.hours(24), deadLetterQueue: mailEventsDlq })],
    });

    // ---- Outputs -------------------------------------------------------------------
    new CfnOutput(this, 'ApiUrl', { value: this.stage.url });
    new CfnOutput(this, 'UserPoolId', { value: userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: userPoolClient.userPoolClientId });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'EventBusName', { value: bus.eventBusName });
  }
}

/** SendEmail and SendBulkEmail from this account's identities, through the CRM configuration set only. */
function grantSendMail(fn: CrmFunction, configurationSet: ses.ConfigurationSet): void {
  const stack = Stack.of(fn);
  fn.role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['ses:SendEmail', 'ses:SendBulkEmail'],
      resources: [
        stack.formatArn({ service: 'ses', resource: 'identity', resourceName: '*' }),
        stack.formatArn({ service: 'ses', resource: 'configuration-set', resourceName: configurationSet.configurationSetName }),
      ],
    }),
  );
  Validations.of(fn.role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*]',
    reason: 'The sender identity (domain or address) is tenant configuration (marketing settings), not known at deploy time; sending is still limited to this account, these two actions and the CRM configuration set.',
  });
}

/** An encrypted, TLS-only DLQ with an alarm as soon as anything lands in it. */
function deadLetterQueue(scope: Construct, id: string, what: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself a dead-letter queue (${what}); a DLQ of a DLQ would only move the problem.`,
  });
  new cloudwatch.Alarm(scope, `${id}Alarm`, {
    alarmDescription: `Messages in the dead-letter queue for ${what}.`,
    metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  return queue;
}

/**
 * The role EventBridge Scheduler assumes to invoke one job, scoped to this account's
 * default schedule group. LambdaInvoke grants it `lambda:InvokeFunction` through
 * `grantInvoke`, which covers `<function ARN>` and `<function ARN>:*` (versions/aliases).
 */
function schedulerRole(job: CrmFunction): iam.Role {
  const stack = Stack.of(job);
  const role = new iam.Role(job, 'SchedulerRole', {
    description: `EventBridge Scheduler invoking ${job.node.id}`,
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: {
        StringEquals: {
          'aws:SourceAccount': stack.account,
          'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' }),
        },
      },
    }),
  });
  const fnLogicalId = stack.getLogicalId(job.fn.node.defaultChild as lambda.CfnFunction);
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${fnLogicalId}.Arn>:*]`,
    reason:
      'Added by aws-scheduler-targets LambdaInvoke (Function.grantInvoke): `<job function ARN>:*` only ' +
      "covers this one function's versions and aliases; the role can invoke nothing else.",
  });
  return role;
}

function contextList(scope: Construct, key: string): string[] | undefined {
  const v: unknown = scope.node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (Array.isArray(v)) return v.map(String);
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const pascal = (s: string) =>
  s
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
