/**
 * Outbound webhooks (issue 10 point 4): what the `webhooks` consumer costs in DynamoDB for one
 * event with 10 subscriptions, the receiver a real local one (node:http on 127.0.0.1) answering 200.
 *
 * - `webhooks.fanout.requests`: every DynamoDB request of `fanOutEvent` for that event (the
 *   tenant's webhooks: one Query; the 10 deliveries: one transaction; their outcomes: one
 *   UpdateItem each); `webhooks.fanout.wcu` and `webhooks.fanout.rcu` beside it;
 * - `webhooks.fanout.unsubscribed.requests`: an event no webhook listens to (the one Query);
 * - `webhooks.fanout.redelivered.requests`: the same event again (at-least-once bus): no second send.
 *
 * Reported, no target. Registered in bench/scenarios.ts; also runs alone: `npx tsx bench/webhooks.ts`.
 */
import type { DomainEvent } from '#events/catalog.ts';
import type { Caller } from '#test/support/api.ts';
import type { DynamoMeter } from './dynamo-meter.ts';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface WebhookBenchInput {
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
}

const SUBSCRIPTIONS = 10;

export async function webhookScenarios({ call, meter, figures, notes }: WebhookBenchInput): Promise<void> {
  const { configureEgress, resetEgress } = await import('#domain/integrations/egress-policy.ts');
  const { fanOutEvent } = await import('#domain/integrations/webhook-deliveries.ts');
  const { startReceiver } = await import('#test/integrations/receiver.ts');
  const { domainEvent } = await import('#test/integrations/webhook-support.ts');
  const admin: Caller = { tenant: 'bench-webhooks', user: 'root', role: 'admin' };
  const rx = await startReceiver();
  // The receiver is on this machine, as with `npm start`.
  configureEgress({ allowLoopback: true });
  try {
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      const res = await call(admin, 'POST', '/v1/webhooks', { url: rx.url(`/hook-${i}`), events: i % 2 ? ['*'] : ['account.created'] });
      if (res.status !== 201) throw new Error(`creating a webhook: ${res.status} ${res.body}`);
    }
    const measured = async (name: string, event: DomainEvent) => {
      const { result, usage } = await meter.measure(() => fanOutEvent(event));
      figures[`${name}.requests`] = usage.requests;
      notes.push(`${name}: ${usage.requests} requests (${usage.calls.join(', ')}), ${result.attempted} attempted, rcu ${usage.rcu}, wcu ${usage.wcu}`);
      return usage;
    };
    const event = domainEvent(admin.tenant, 'account.created');
    const fanout = await measured('webhooks.fanout', event);
    figures['webhooks.fanout.rcu'] = fanout.rcu;
    figures['webhooks.fanout.wcu'] = fanout.wcu;
    figures['webhooks.fanout.subscriptions'] = SUBSCRIPTIONS;
    const sent = Array.from({ length: SUBSCRIPTIONS }, (_, i) => rx.received(`/hook-${i}`).length).reduce((a, b) => a + b, 0);
    if (sent !== SUBSCRIPTIONS) notes.push(`webhooks.fanout: the receiver got ${sent} requests, not ${SUBSCRIPTIONS}`);
    await measured('webhooks.fanout.redelivered', event);
    await measured('webhooks.fanout.unsubscribed', domainEvent('bench-webhooks-none', 'account.created'));
  } catch (err) {
    notes.push(`webhooks.fanout: no figures: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    resetEgress();
    await rx.close();
  }
}

if (isEntry(import.meta.url)) runStandalone('webhooks', webhookScenarios);
