/**
 * Everything that runs with no request: the scheduled jobs (events/schedules.ts), the event
 * consumers (events/consumers.ts), the outbox relay on the table stream, and the SES
 * configuration set with its mail-events consumer. The same tables feed the local runtime.
 */
import { CfnOutput, Duration, Stack, TimeZone, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as eventSources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as ses from 'aws-cdk-lib/aws-ses';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { schedules, toAwsCron } from '#events/schedules.ts';
import { ALL_EVENT_TYPES, EVENT_SOURCE, consumers } from '#events/consumers.ts';
import { CrmFunction, functionEntry, type CrmFunctionProps } from './crm-function.ts';
import { OUTBOX_SK_PREFIX, deadLetterQueue, grantSendMail, pascal, schedulerRole, type EntryResolver } from './stack-parts.ts';

/**
 * Jobs and consumers work across tenants: every tenant's keys (`T#…`), the sweep partitions of
 * `byDue` (`DUE#…`) and a job's own checkpoint (`JOB#…`). Not the credentials' keys outside any
 * tenant (`APIKEY#`, `FORM#`): no worker reads or writes those.
 */
export const WORKER_LEADING_KEYS = ['T#*', 'DUE#*', 'JOB#*'];

export interface WorkersStackProps extends StackProps {
  table: dynamodb.ITableV2;
  bus: events.IEventBus;
  cursorSecret: secretsmanager.ISecret;
  /** Signs the tokens of public links (domain/marketing/tokens.ts). */
  marketingTokenSecret: secretsmanager.ISecret;
  /** Wraps the data keys of per-tenant signing secrets (domain/secrets/envelope.ts). */
  secretsKey: kms.IKey;
  /** The API's base URL, for the links that mail carries (public routes). */
  publicBaseUrl: string;
  entry?: EntryResolver;
}

export class WorkersStack extends Stack {
  public readonly jobs: Record<string, CrmFunction>;
  public readonly consumerHandlers: Record<string, CrmFunction>;
  public readonly outboxRelay: CrmFunction;
  public readonly mailEvents: CrmFunction;
  public readonly mailConfigurationSet: ses.ConfigurationSet;

  constructor(scope: Construct, id: string, props: WorkersStackProps) {
    super(scope, id, props);
    const { table, bus, cursorSecret, marketingTokenSecret, secretsKey, publicBaseUrl } = props;
    const common = { table, bus, cursorSecret } satisfies Partial<CrmFunctionProps>;
    const entry = props.entry ?? functionEntry;
    // Functions that sign public-link tokens get the key's ARN and may read that secret.
    const tokenEnv = { MARKETING_TOKEN_SECRET_ARN: marketingTokenSecret.secretArn };

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
          ? { environment: { ...(s.sendsMail ? mailEnv : {}), ...(s.signsLinks ? { ...tokenEnv, PUBLIC_BASE_URL: publicBaseUrl } : {}) } }
          : {}),
      });
      fn.grantTable(s.tableActions, { leadingKeys: WORKER_LEADING_KEYS });
      if (s.sendsMail) grantSendMail(fn, this.mailConfigurationSet);
      if (s.signsLinks) fn.grantSecretRead(marketingTokenSecret);
      if (s.opensSecrets) fn.grantSecretsKey(secretsKey, 'open');
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
        timeout: Duration.seconds(c.timeoutSeconds ?? 30),
        ...(c.sendsMail || c.signsLinks
          ? { environment: { ...(c.sendsMail ? mailEnv : {}), ...(c.signsLinks ? { ...tokenEnv, PUBLIC_BASE_URL: publicBaseUrl } : {}) } }
          : {}),
      });
      fn.grantTable(c.tableActions, { leadingKeys: WORKER_LEADING_KEYS });
      if (c.sendsMail) grantSendMail(fn, this.mailConfigurationSet);
      if (c.signsLinks) fn.grantSecretRead(marketingTokenSecret);
      if (c.opensSecrets) fn.grantSecretsKey(secretsKey, 'open');

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
        // A consumer of every event type matches on the source alone (no list of ~70 types to keep in step).
        eventPattern: c.eventTypes === ALL_EVENT_TYPES ? { source: [EVENT_SOURCE] } : { source: [EVENT_SOURCE], detailType: c.eventTypes },
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
    this.outboxRelay.grantTable(['dynamodb:GetItem', 'dynamodb:UpdateItem'], { leadingKeys: WORKER_LEADING_KEYS });
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
    this.mailEvents.grantTable(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'], { leadingKeys: WORKER_LEADING_KEYS });
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

    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'EventBusName', { value: bus.eventBusName });
  }
}
