/**
 * Benchmark of marketing workflows (issue 8 point 7), called from scenarios.ts, or alone:
 * `npx tsx bench/workflows.ts` (starts its own DynamoDB Local).
 *
 * `workflow.event.requests` (target ≤ 3): the DynamoDB requests the `workflows` consumer makes
 * for ONE event, per workflow it matches, counters included. Measured on real events (a lead
 * created over HTTP, taken from the outbox) applied straight to the consumer:
 *   - `.unmatched`: an event type no workflow of the tenant listens to (≤ 1: the index Query);
 *   - `.delayed`: one matching workflow with a delay (the Query, the run + due item);
 *   - `.count`: one matching workflow with a `count` not yet reached (the Query, the counter's
 *     GetItem, the counter's write);
 *   - `.notify`: one matching workflow that notifies the owner at once (the Query, the
 *     notification, the run);
 *   - `.two_delayed`: two matching delayed workflows, per workflow.
 * `workflow.event.requests` is the largest of the per-workflow figures. Actions that call other
 * contexts' use cases (createTask, addTag, setLeadStatus) cost what those use cases cost, on
 * top; `.notify` shows the one action the workflows context writes itself.
 */
import type { Caller } from '#test/support/api.ts';
import type { DomainEvent } from '#events/catalog.ts';
import type { DynamoMeter } from './dynamo-meter.ts';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface WorkflowBenchInput {
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
  tenant: string;
}

export async function workflowScenarios({ call, meter, figures, notes, tenant }: WorkflowBenchInput): Promise<void> {
  const { applyWorkflowEvent } = await import('#domain/marketing/workflow-engine.ts');
  const { deliverPending } = await import('#events/outbox.ts');
  const max: Caller = { tenant: `${tenant}-wf`, user: 'max', role: 'marketer' };
  const alice: Caller = { tenant: `${tenant}-wf`, user: 'alice', role: 'rep', team: 'east' };
  await call(alice, 'GET', '/v1/tasks?limit=1');

  /** The lead.created event of a new lead, out of the outbox (no consumer sees it). */
  let n = 0;
  const leadCreated = async (): Promise<DomainEvent> => {
    const res = await call(alice, 'POST', '/v1/leads', { name: `Bench lead ${++n} ${Date.now().toString(36)}`, source: 'website' });
    if (res.status !== 201) throw new Error(`creating a lead: ${res.status} ${res.body}`);
    const taken: DomainEvent[] = [];
    await deliverPending({ publish: async (events) => { taken.push(...events); return { failedIds: [] }; } });
    const event = taken.find((e) => e.type === 'lead.created');
    if (!event) throw new Error('no lead.created event in the outbox');
    return event;
  };
  const workflow = async (body: Record<string, unknown>) => {
    const res = await call(max, 'POST', '/v1/workflows', { name: `Bench workflow ${Date.now().toString(36)}`, trigger: { event: 'lead.created' }, ...body });
    if (res.status !== 201) throw new Error(`creating a workflow: ${res.status} ${res.body}`);
    return (res.json as { id: string }).id;
  };
  const disable = (id: string) => call(max, 'PATCH', `/v1/workflows/${id}`, { enabled: false });
  const measured = async (name: string, perWorkflow: number) => {
    const event = await leadCreated();
    const { usage } = await meter.measure(() => applyWorkflowEvent(event));
    const value = Math.round((usage.requests / perWorkflow) * 100) / 100;
    figures[`workflow.event.requests.${name}`] = value;
    notes.push(`workflow.event.requests.${name}: ${usage.requests} requests (${usage.calls.join(', ')})${perWorkflow > 1 ? ` for ${perWorkflow} workflows` : ''}`);
    return value;
  };

  try {
    await measured('unmatched', 1);
    const delayed = await workflow({ delay: { hours: 1 }, actions: [{ type: 'notify', to: 'owner', message: 'x' }] });
    const perWorkflow = [await measured('delayed', 1)];
    await disable(delayed);
    const counted = await workflow({ trigger: { event: 'lead.created', count: { n: 3, withinDays: 7 } }, actions: [{ type: 'notify', to: 'owner', message: 'x' }] });
    perWorkflow.push(await measured('count', 1));
    await disable(counted);
    const notify = await workflow({ actions: [{ type: 'notify', to: 'owner', message: 'x' }] });
    perWorkflow.push(await measured('notify', 1));
    await disable(notify);
    await workflow({ delay: { hours: 1 }, actions: [{ type: 'notify', to: 'owner', message: 'x' }] });
    await workflow({ delay: { hours: 2 }, actions: [{ type: 'notify', to: 'owner', message: 'y' }] });
    perWorkflow.push(await measured('two_delayed', 2));
    figures['workflow.event.requests'] = Math.max(...perWorkflow);
  } catch (err) {
    notes.push(`workflow.event.requests: no figure: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// Alone (`npx tsx bench/workflows.ts`): bench/standalone.ts gives it its own DynamoDB Local, table, data directory and meter.
if (isEntry(import.meta.url)) {
  runStandalone('wf', ({ call, meter, figures, notes }) => workflowScenarios({ call, meter, figures, notes, tenant: `bench${Date.now().toString(36)}` }));
}
