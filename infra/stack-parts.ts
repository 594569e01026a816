/**
 * Pieces both stacks use: where entry files are, the outbox stream filter, DLQs with alarms,
 * the scheduler's role, the SES grant, names.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as ses from 'aws-cdk-lib/aws-ses';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { outboxKey } from '#domain/table/keys.ts';
import type { CrmFunction } from './crm-function.ts';

export type EntryResolver = (kind: 'http' | 'jobs' | 'events' | 'auth', name: string) => string;

/** Outbox items' sort key, from the domain's key builder (domain/table/keys.ts): the stream filter matches it as a prefix. */
export const OUTBOX_SK_PREFIX = outboxKey('tenant', 'event').SK;

/** SendEmail and SendBulkEmail from this account's identities, through the CRM configuration set only. */
export function grantSendMail(fn: CrmFunction, configurationSet: ses.ConfigurationSet): void {
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
export function deadLetterQueue(scope: Construct, id: string, what: string): sqs.Queue {
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
export function schedulerRole(job: CrmFunction): iam.Role {
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

export function contextList(scope: Construct, key: string): string[] | undefined {
  const v: unknown = scope.node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (Array.isArray(v)) return v.map(String);
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export const pascal = (s: string) =>
  s
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
