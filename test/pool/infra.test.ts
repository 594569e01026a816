/**
 * The pool's jobs and consumer in the workers stack, as the schedule and consumer tables declare
 * them (the generic template tests in test/infra cover every job and consumer; these pin the
 * pool's own: every 15 minutes, as of the scheduled time, retried, DLQ with an alarm, one run at
 * a time, exactly its table actions).
 */
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { consumers } from '#events/consumers.ts';
import { schedules } from '#events/schedules.ts';
import type { WorkersStack } from '#infra/workers-stack.ts';
import { buildTestApp, resourcesOfType, type CfnTemplate } from '../infra/support.ts';

let compute: WorkersStack;
let t: CfnTemplate;

beforeAll(() => {
  compute = buildTestApp({ nag: false }).workers;
  t = Template.fromStack(compute).toJSON() as CfnTemplate;
}, 120_000);

const getAttId = (v: any): string => v['Fn::GetAtt'][0];

describe('pool jobs in the stack', () => {
  for (const [job, expression, timeout] of [
    ['pool-release', 'cron(*/15 * * * ? *)', 600],
    ['task-reminders', 'cron(*/5 * * * ? *)', 120],
  ] as const) {
    it(`${job}: scheduled ${expression} with {now: scheduled time}, retries, a DLQ with an alarm, reserved concurrency 1`, () => {
      expect(schedules.some((s) => s.name === job)).toBe(true);
      const fn = compute.jobs[job]!;
      const fnId = compute.getLogicalId(fn.fn.node.defaultChild as CfnFunction);
      const schedule = resourcesOfType(t, 'AWS::Scheduler::Schedule').map(([, r]) => r.Properties!).find((p) => getAttId(p.Target.Arn) === fnId);
      expect(schedule).toMatchObject({ ScheduleExpression: expression, ScheduleExpressionTimezone: 'Etc/UTC', State: 'ENABLED' });
      expect(JSON.parse(schedule!.Target.Input)).toEqual({ now: '<aws.scheduler.scheduled-time>' });
      expect(schedule!.Target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
      const dlqId = getAttId(schedule!.Target.DeadLetterConfig.Arn);
      expect(t.Resources[dlqId]!.Type).toBe('AWS::SQS::Queue');
      const alarm = resourcesOfType(t, 'AWS::CloudWatch::Alarm').find(([, a]) => a.Properties!.Dimensions?.some((d: any) => getAttId(d.Value) === dlqId));
      expect(alarm, `${job} DLQ alarm`).toBeDefined();
      const props = t.Resources[fnId]!.Properties!;
      expect(props.ReservedConcurrentExecutions).toBe(1);
      expect(props.Timeout).toBe(timeout);
    });
  }

  it('task-notifications: an EventBridge rule for task.created / task.updated, with a DLQ', () => {
    expect(consumers.find((c) => c.name === 'task-notifications')).toBeDefined();
    const fnId = compute.getLogicalId(compute.consumerHandlers['task-notifications']!.fn.node.defaultChild as CfnFunction);
    const rule = resourcesOfType(t, 'AWS::Events::Rule').map(([, r]) => r.Properties!).find((r) => r.Targets.some((x: any) => getAttId(x.Arn) === fnId));
    expect(rule!.EventPattern['detail-type'].sort()).toEqual(['task.created', 'task.updated']);
    expect(t.Resources[getAttId(rule!.Targets[0].DeadLetterConfig.Arn)]!.Type).toBe('AWS::SQS::Queue');
  });
});
