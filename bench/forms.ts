/**
 * Inbound forms (issue 10 point 3): the DynamoDB requests of one signed `POST /in/forms/{id}`,
 * the public function warm (it has read the form's pointer once):
 *
 * - `forms.submit.requests`: a new lead with a note: one BatchGetItem (form, receipt), one
 *   BatchGetItem (the email's and phone's guards among leads and contacts, the owner's directory
 *   entry), ONE transaction (lead, guards, note, events, receipt);
 * - `forms.submit.duplicate.requests`: a submission whose email a lead holds: the same reads, one
 *   transaction (the note, a ConditionCheck of the lead, events, receipt);
 * - `forms.submit.replay.requests`: the same webhook-id again: one BatchGetItem.
 *
 * Registered in bench/scenarios.ts; also runs alone: `npx tsx bench/forms.ts`.
 */
import { randomUUID } from 'node:crypto';
import { signedHeaders } from '#domain/integrations/standard-webhooks.ts';
import type { ApiResponse, Caller } from '#test/support/api.ts';
import type { Usage } from './dynamo-meter.ts';
import { isEntry, runStandalone, type PartContext } from './standalone.ts';

const round2 = (n: number) => Math.round(n * 100) / 100;
const describe = (u: Usage) => Object.entries(u.byOperation).map(([op, n]) => `${n} ${op}`).join(', ');

export async function formScenarios({ call, meter, figures, notes }: PartContext): Promise<void> {
  const tenant = `bench-forms-${randomUUID().slice(0, 6)}`;
  const root: Caller = { tenant, user: 'root', role: 'admin' };
  const alice: Caller = { tenant, user: 'alice', role: 'rep', team: 'east' };
  try {
    for (const c of [root, alice]) await call(c, 'GET', '/v1/notifications');
    const form = (await call(root, 'POST', '/v1/forms', { name: '官网联系表单', source: 'website', ownerId: 'alice', tags: ['web'] })).json as { id: string; secret: string };
    const submit = (body: unknown, id = `msg_${randomUUID()}`): Promise<ApiResponse> => {
      const raw = JSON.stringify(body);
      const headers = { 'content-type': 'application/json', ...signedHeaders([form.secret], id, new Date(), raw) };
      return call(root, 'POST', `/in/forms/${form.id}`, undefined, { raw, headers, token: null });
    };
    const measured = async (name: string, status: number, send: () => Promise<ApiResponse>, what: string) => {
      const mark = meter.mark();
      const res = await send();
      const usage = meter.usageSince(mark);
      if (res.status !== status) throw new Error(`${name}: POST /in/forms/{id} answered ${res.status} ${res.body.slice(0, 200)}`);
      figures[`${name}.requests`] = usage.requests;
      figures[`${name}.rcu`] = round2(usage.rcu);
      figures[`${name}.wcu`] = round2(usage.wcu);
      notes.push(`${name}: ${usage.requests} requests (${describe(usage)}), ${round2(usage.rcu)} RCU, ${round2(usage.wcu)} WCU: ${what}`);
      return res;
    };
    // Warm-up: the function reads the form's pointer once per container.
    await submit({ name: '预热 warm-up' });
    const email = `bench-${randomUUID().slice(0, 8)}@example.cn`;
    const id = `msg_${randomUUID()}`;
    const body = { name: '王小明', company: '星辰科技', email, phone: '+86 138 0013 8000', message: '请尽快联系我', tags: ['vip'] };
    await measured('forms.submit', 201, () => submit(body, id), 'form + receipt, guards + owner, one transaction (lead, guards, note, events, receipt).');
    await measured('forms.submit.duplicate', 200, () => submit({ name: '王小明', email, message: '再次联系' }), 'the same reads, one transaction (note, ConditionCheck of the lead, events, receipt).');
    await measured('forms.submit.replay', 201, () => submit(body, id), 'form + receipt: the stored answer.');
  } catch (err) {
    notes.push(`forms.submit: no figures: ${err instanceof Error ? err.message : String(err)}`);
  }
}

if (isEntry(import.meta.url)) runStandalone('forms', formScenarios);
