/**
 * Inbound forms (api/integrations.md "Inbound forms and webhooks"), through the HTTP API:
 * `/v1/forms` CRUD (admins), the secret shown once, and signed submissions to the public
 * `POST /in/forms/{id}`: a new lead with its note and event, duplicates logged on the existing
 * lead or contact, replays and racing twins answered once, every signature failure a 401 that
 * writes nothing, bad bodies, the size limit, and the 24 h overlap of a rotated secret.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { newSecret, signedHeaders } from '#domain/integrations/standard-webhooks.ts';
import { call, type ApiResponse } from '#test/support/api.ts';
import { api, expectFieldError, expectProblem, listAll, uniq, validBody, type Caller, type Sent } from '#test/support/fixtures.ts';
import { outboxEvents } from '#test/sales/orders-support.ts';
import { deliver } from '#test/marketing/workflows-support.ts';

const T = 'forms';
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'west' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const otherAdmin: Caller = { tenant: 'forms-other', user: 'root', role: 'admin' };

beforeAll(async () => {
  // Everyone is in the directory (first request), so forms can name them as owners.
  for (const c of [root, alice, mia, bob, sam, mark, otherAdmin]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

afterEach(() => {
  vi.useRealTimers();
});

interface MadeForm {
  id: string;
  secret: string;
  [k: string]: any;
}

async function newForm(body: Record<string, unknown> = {}, by: Caller = root): Promise<MadeForm> {
  const res = await api(by).post('/v1/forms', { name: uniq('官网表单'), source: 'website', ...body });
  expect(res.status, res.body).toBe(201);
  return res.json as MadeForm;
}

let messageCounter = 0;
const newMessageId = () => `msg_${Date.now().toString(36)}_${++messageCounter}`;

interface Submission {
  /** The body as sent; a value that is not a string is JSON-encoded first. */
  body?: unknown;
  secrets?: string[];
  id?: string;
  /** When it was signed (default: now). */
  at?: Date;
  headers?: Record<string, string>;
}

/** A submission signed as Standard Webhooks specifies (with the form's secret unless told otherwise). */
function submit(form: { id: string; secret: string }, s: Submission = {}): Promise<ApiResponse> {
  const raw = typeof s.body === 'string' ? s.body : JSON.stringify(s.body ?? { name: uniq('张三') });
  const signed = signedHeaders(s.secrets ?? [form.secret], s.id ?? newMessageId(), s.at ?? new Date(), raw);
  return call(null, 'POST', `/in/forms/${form.id}`, undefined, { raw, headers: { 'content-type': 'application/json', ...signed, ...s.headers } });
}

/** As fixtures' expectProblem, for an answer of `call`. */
const problem = (res: ApiResponse, status: number, code: string) => expectProblem({ ...res, req: `POST ${res.status}` } as Sent, status, code);

/** Every item of this file's table (its own: a Scan is fine here). */
async function itemCount(): Promise<number> {
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await db.send(new ScanCommand({ TableName: tableName(), Select: 'COUNT', ...(start ? { ExclusiveStartKey: start } : {}) }));
    count += out.Count ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return count;
}

const leadsNamed = async (name: string) => (await listAll(root, '/v1/leads')).filter((l) => l.name === name);
const activitiesOf = (query: string) => listAll(root, `/v1/activities?${query}`);

describe('managing forms (admins)', () => {
  it('create shows the secret once; read, list, patch (If-Match), delete', async () => {
    const created = await api(root).post('/v1/forms', { name: ' 官网联系表单 ', source: 'website', tags: ['web', 'web', '官网'] });
    expect(created.status, created.body).toBe(201);
    const form = created.json;
    expect(form).toMatchObject({ name: '官网联系表单', source: 'website', ownerId: null, campaignId: null, tags: ['web', '官网'], createdBy: 'root', version: 1 });
    expect(form.url).toBe(`/in/forms/${form.id}`);
    expect(created.headers.location).toBe(`/v1/forms/${form.id}`);
    expect(form.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(form.secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);

    const got = await api(root).get(`/v1/forms/${form.id}`);
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe('"1"');
    const { secret: _shownOnce, ...view } = form;
    expect(got.json).toEqual(view);
    expect('secret' in got.json).toBe(false);
    const listed = await listAll(root, '/v1/forms');
    expect(listed.find((f) => f.id === form.id)).toEqual(view);
    expect(listed.every((f) => !('secret' in f) && !('signing' in f))).toBe(true);

    const patched = await api(root).patch(`/v1/forms/${form.id}`, { name: '新表单', ownerId: 'alice', tags: [] }, { headers: { 'if-match': '"1"' } });
    expect(patched.status, patched.body).toBe(200);
    expect(patched.json).toMatchObject({ name: '新表单', ownerId: 'alice', tags: [], version: 2 });
    expect('secret' in patched.json).toBe(false);
    expectProblem(await api(root).patch(`/v1/forms/${form.id}`, { name: 'stale' }, { headers: { 'if-match': '"1"' } }), 412, 'version_mismatch');
    // null gives the leads back to the form's creator (ownerId shows null again).
    const cleared = await api(root).patch(`/v1/forms/${form.id}`, { ownerId: null }, { headers: { 'content-type': 'application/merge-patch+json' } });
    expect(cleared.json).toMatchObject({ ownerId: null, version: 3 });

    expectProblem(await api(root).delete(`/v1/forms/${form.id}`, { headers: { 'if-match': '"2"' } }), 412, 'version_mismatch');
    expect((await api(root).delete(`/v1/forms/${form.id}`)).status).toBe(204);
    expectProblem(await api(root).get(`/v1/forms/${form.id}`), 404, 'not_found');
    expect((await listAll(root, '/v1/forms')).some((f) => f.id === form.id)).toBe(false);
  });

  it('only admins; another tenant\'s form is a 404', async () => {
    const form = await newForm();
    for (const c of [alice, mia, sam, mark]) {
      expectProblem(await api(c).post('/v1/forms', { name: 'x', source: 'web' }), 403, 'forbidden');
      expectProblem(await api(c).get('/v1/forms'), 403, 'forbidden');
      expectProblem(await api(c).get(`/v1/forms/${form.id}`), 403, 'forbidden');
      expectProblem(await api(c).post(`/v1/forms/${form.id}/rotate-secret`), 403, 'forbidden');
    }
    for (const res of [
      await api(otherAdmin).get(`/v1/forms/${form.id}`),
      await api(otherAdmin).patch(`/v1/forms/${form.id}`, { name: 'mine now' }),
      await api(otherAdmin).post(`/v1/forms/${form.id}/rotate-secret`),
      await api(otherAdmin).delete(`/v1/forms/${form.id}`),
    ]) expectProblem(res, 404, 'not_found');
    expect(await listAll(otherAdmin, '/v1/forms')).toEqual([]);
  });

  it('ownerId: a user of the directory who may hold leads; campaignId: a campaign of the tenant', async () => {
    expectFieldError(await api(root).post('/v1/forms', { name: 'x', source: 'web', ownerId: 'ghost' }), 'ownerId');
    expectFieldError(await api(root).post('/v1/forms', { name: 'x', source: 'web', ownerId: 'sam' }), 'ownerId');
    expectFieldError(await api(root).post('/v1/forms', { name: 'x', source: 'web', campaignId: '01JZZZZZZZZZZZZZZZZZZZZZZZ' }), 'campaignId');
    expectFieldError(await api(root).post('/v1/forms', { name: 'x' }), 'source');
    expectFieldError(await api(root).post('/v1/forms', { name: 'x', source: 'web', secret: 'whsec_AAAA' }), 'secret');
    const form = await newForm();
    expectFieldError(await api(root).patch(`/v1/forms/${form.id}`, { ownerId: 'ghost' }), 'ownerId');
    expectFieldError(await api(root).patch(`/v1/forms/${form.id}`, { url: '/elsewhere' }), 'url');
    expect((await api(root).get(`/v1/forms/${form.id}`)).json.version).toBe(1);
    // Another tenant's user is not in this tenant's directory.
    expectFieldError(await api(otherAdmin).post('/v1/forms', { name: 'x', source: 'web', ownerId: 'alice' }), 'ownerId');
  });

  it('rotate-secret with an Idempotency-Key: a retry answers the same new secret and rotates once', async () => {
    const form = await newForm();
    const key = { headers: { 'idempotency-key': `rotate-${form.id}` } };
    const first = await api(root).post(`/v1/forms/${form.id}/rotate-secret`, undefined, key);
    expect(first.status, first.body).toBe(200);
    const again = await api(root).post(`/v1/forms/${form.id}/rotate-secret`, undefined, key);
    expect(again.status, again.body).toBe(200);
    expect(again.json).toEqual(first.json);
    expect((await api(root).get(`/v1/forms/${form.id}`)).json.version).toBe(2);
  });

  it('rotate-secret answers a new secret (version + 1), shown that once', async () => {
    const form = await newForm();
    const rotated = await api(root).post(`/v1/forms/${form.id}/rotate-secret`);
    expect(rotated.status, rotated.body).toBe(200);
    expect(rotated.json.secret).toMatch(/^whsec_/);
    expect(rotated.json.secret).not.toBe(form.secret);
    expect(rotated.json.version).toBe(2);
    expect(rotated.headers.etag).toBe('"2"');
    expect('secret' in (await api(root).get(`/v1/forms/${form.id}`)).json).toBe(false);
    expectProblem(await api(root).post(`/v1/forms/${form.id}/rotate-secret`, undefined, { headers: { 'if-match': '"1"' } }), 412, 'version_mismatch');
  });
});

describe('signed submissions', () => {
  it('→ 201 {leadId}: a new lead with the form\'s source, campaign, owner and tags, its message as a note, and form.submitted', async () => {
    const segment = await api(root).post('/v1/segments', validBody['POST /v1/segments']!({}));
    const campaign = await api(root).post('/v1/campaigns', validBody['POST /v1/campaigns']!({ segmentId: segment.json.id }));
    expect(campaign.status, campaign.body).toBe(201);
    const form = await newForm({ ownerId: 'alice', campaignId: campaign.json.id, tags: ['web', '官网'] });
    const name = uniq('王小明');
    const body = { name, company: '星辰科技', email: `wang-${messageCounter}@Example.CN`, phone: '+86 138 0013 8000', message: '请尽快联系我\n谢谢', tags: ['vip', 'web'] };
    const id = newMessageId();
    const res = await submit(form, { body, id });
    expect(res.status, res.body).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.json)).toEqual(['leadId']);

    const lead = (await api(root).get(`/v1/leads/${res.json.leadId}`)).json;
    expect(lead).toMatchObject({
      name,
      company: '星辰科技',
      email: body.email.toLowerCase(),
      phone: '+86 138 0013 8000',
      source: 'website',
      campaignId: campaign.json.id,
      status: 'new',
      ownerId: 'alice',
      createdBy: 'alice',
      tags: ['web', '官网', 'vip'],
    });
    // Owned by alice of team east: her manager sees it, a rep of another team does not.
    expect((await api(mia).get(`/v1/leads/${lead.id}`)).status).toBe(200);
    expect((await api(alice).get(`/v1/leads/${lead.id}`)).status).toBe(200);
    expectProblem(await api(bob).get(`/v1/leads/${lead.id}`), 404, 'not_found');

    const notes = await activitiesOf(`leadId=${lead.id}`);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ type: 'note', subject: form.name, body: '请尽快联系我\n谢谢', leadId: lead.id, ownerId: 'alice' });

    const submitted = (await outboxEvents(T)).filter((e) => e.type === 'form.submitted' && e.entity.id === form.id);
    expect(submitted).toHaveLength(1);
    expect(submitted[0]!.data).toEqual({
      formId: form.id,
      webhookId: id,
      source: 'website',
      campaignId: campaign.json.id,
      duplicate: false,
      leadId: lead.id,
      contactId: null,
      activityId: notes[0]!.id,
    });
    expect(submitted[0]!.actor.userId).toBe('alice');
    expect((await outboxEvents(T)).filter((e) => e.type === 'lead.created' && e.entity.id === lead.id)).toHaveLength(1);
  });

  it('a form that names no owner gives its leads to the admin who created it; no message, no note', async () => {
    const form = await newForm();
    const name = uniq('赵六');
    const res = await submit(form, { body: { name } });
    expect(res.status, res.body).toBe(201);
    expect((await api(root).get(`/v1/leads/${res.json.leadId}`)).json).toMatchObject({ name, ownerId: 'root', source: 'website', tags: [] });
    expect(await activitiesOf(`leadId=${res.json.leadId}`)).toEqual([]);
  });

  it('a duplicate of a lead (email, any case) → 200 {leadId, duplicate}, the message as a note on it, no new lead', async () => {
    const form = await newForm({ ownerId: 'alice' });
    const email = `dup-${Date.now()}@example.cn`;
    const existing = await api(bob).post('/v1/leads', { name: uniq('老客户'), email });
    expect(existing.status, existing.body).toBe(201);
    const name = uniq('重复的人');
    const res = await submit(form, { body: { name, email: email.toUpperCase(), message: '又来了' } });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ leadId: existing.json.id, duplicate: true });
    expect(await leadsNamed(name)).toEqual([]);
    const notes = await activitiesOf(`leadId=${existing.json.id}`);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ type: 'note', subject: form.name, body: '又来了' });
    const [event] = (await outboxEvents(T)).filter((e) => e.type === 'form.submitted' && e.data && (e.data as any).leadId === existing.json.id);
    expect(event!.data).toMatchObject({ duplicate: true, leadId: existing.json.id, contactId: null, activityId: notes[0]!.id });
  });

  it('a duplicate of a contact (phone) → 200 {contactId, duplicate}, a note on the contact; a matching lead is preferred', async () => {
    const form = await newForm();
    const account = await api(bob).post('/v1/accounts', { name: uniq('联系人公司') });
    const phone = `+86 139 ${String(Date.now()).slice(-4)} 0000`;
    const contact = await api(bob).post('/v1/contacts', { name: uniq('李四'), phone, accountId: account.json.id });
    expect(contact.status, contact.body).toBe(201);
    const name = uniq('电话来的人');
    const res = await submit(form, { body: { name, phone, message: '需要报价' } });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ contactId: contact.json.id, duplicate: true });
    expect(await leadsNamed(name)).toEqual([]);
    const notes = await activitiesOf(`contactId=${contact.json.id}`);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ type: 'note', body: '需要报价', contactId: contact.json.id, accountId: account.json.id });

    // A lead with the same phone now exists too: the lead takes the next one.
    const lead = await api(bob).post('/v1/leads', { name: uniq('同号线索'), phone });
    expect(lead.status, lead.body).toBe(201);
    const again = await submit(form, { body: { name, phone } });
    expect(again.json).toEqual({ leadId: lead.json.id, duplicate: true });
    expect(await activitiesOf(`leadId=${lead.json.id}`)).toHaveLength(1);
  });

  it('a webhook-id accepted before → the first answer again, nothing new (even with another body)', async () => {
    const form = await newForm();
    const name = uniq('重放');
    const id = newMessageId();
    const first = await submit(form, { body: { name, message: 'hi' }, id });
    expect(first.status, first.body).toBe(201);
    const before = await itemCount();
    const again = await submit(form, { body: { name, message: 'hi' }, id });
    expect(again.status).toBe(201);
    expect(again.json).toEqual(first.json);
    const changed = await submit(form, { body: { name: uniq('另一个'), message: 'changed' }, id });
    expect(changed.status).toBe(201);
    expect(changed.json).toEqual(first.json);
    expect(await itemCount()).toBe(before);
    expect(await leadsNamed(name)).toHaveLength(1);
    // The same webhook-id at another form is another message.
    const other = await newForm();
    const elsewhere = await submit(other, { body: { name }, id });
    expect(elsewhere.status).toBe(201);
    expect(elsewhere.json.leadId).not.toBe(first.json.leadId);
  });

  it('identical submissions at the same moment → one lead, every answer the same', async () => {
    const form = await newForm();
    for (const withEmail of [false, true]) {
      const name = uniq('并发');
      const body = JSON.stringify({ name, message: 'once', ...(withEmail ? { email: `race-${Date.now()}@example.cn` } : {}) });
      const id = newMessageId();
      const at = new Date();
      const answers = await Promise.all(Array.from({ length: 6 }, () => submit(form, { body, id, at })));
      for (const a of answers) expect(a.status, a.body).toBe(201);
      expect(new Set(answers.map((a) => a.json.leadId)).size).toBe(1);
      const leads = await leadsNamed(name);
      expect(leads).toHaveLength(1);
      expect(await activitiesOf(`leadId=${leads[0]!.id}`)).toHaveLength(1);
      expect((await outboxEvents(T)).filter((e) => e.type === 'form.submitted' && (e.data as any).webhookId === id)).toHaveLength(1);
    }
  });

  it('two different messages of one new email at once → one lead, the other a duplicate note on it', async () => {
    const form = await newForm();
    const email = `twins-${Date.now()}@example.cn`;
    const answers = await Promise.all([1, 2, 3].map((n) => submit(form, { body: { name: uniq('双胞胎'), email, message: `m${n}` } })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses, answers.map((a) => a.body).join('\n')).toEqual([200, 200, 201]);
    const leadId = answers.find((a) => a.status === 201)!.json.leadId;
    for (const a of answers.filter((x) => x.status === 200)) expect(a.json).toEqual({ leadId, duplicate: true });
    expect((await activitiesOf(`leadId=${leadId}`)).map((n) => n.body).sort()).toEqual(['m1', 'm2', 'm3']);
  });
});

describe('every signature failure is a 401 that writes nothing', () => {
  it('none, bad, wrong secret, another body, stale, future, unknown form, deleted form', async () => {
    const form = await newForm();
    const deleted = await newForm();
    expect((await api(root).delete(`/v1/forms/${deleted.id}`)).status).toBe(204);
    // One that took submissions before it was deleted (its pointer is remembered by the function).
    const used = await newForm();
    expect((await submit(used)).status).toBe(201);
    expect((await api(root).delete(`/v1/forms/${used.id}`)).status).toBe(204);
    const raw = JSON.stringify({ name: uniq('不该存在'), email: 'nobody@example.cn' });
    const now = new Date();
    const sixMinutes = 6 * 60 * 1000;
    const unsigned = { 'content-type': 'application/json' };
    const cases: [string, () => Promise<ApiResponse>][] = [
      ['no signature', () => call(null, 'POST', `/in/forms/${form.id}`, undefined, { raw, headers: unsigned })],
      ['only webhook-id', () => call(null, 'POST', `/in/forms/${form.id}`, undefined, { raw, headers: { ...unsigned, 'webhook-id': newMessageId() } })],
      ['a bad signature', () => submit(form, { body: raw, headers: { 'webhook-signature': 'v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' } })],
      ['not v1', () => submit(form, { body: raw, headers: { 'webhook-signature': 'v2,abc' } })],
      ['a wrong secret', () => submit(form, { body: raw, secrets: [newSecret()] })],
      ['another form\'s secret', () => submit(form, { body: raw, secrets: [deleted.secret] })],
      [
        'a body changed after signing',
        () => {
          const signed = signedHeaders([form.secret], newMessageId(), new Date(), raw);
          return call(null, 'POST', `/in/forms/${form.id}`, undefined, { raw: `${raw} `, headers: { ...unsigned, ...signed } });
        },
      ],
      ['stale (6 minutes old)', () => submit(form, { body: raw, at: new Date(now.getTime() - sixMinutes) })],
      ['from the future (6 minutes ahead)', () => submit(form, { body: raw, at: new Date(now.getTime() + sixMinutes) })],
      ['a malformed timestamp', () => submit(form, { body: raw, headers: { 'webhook-timestamp': 'yesterday' } })],
      ['an unknown form', () => submit({ id: '01JZZZZZZZZZZZZZZZZZZZZZZZ', secret: form.secret }, { body: raw })],
      ['a malformed form id', () => submit({ id: 'x'.repeat(3000), secret: form.secret }, { body: raw })],
      ['a deleted form', () => submit(deleted, { body: raw })],
      ['a deleted form that took submissions before', () => submit(used, { body: raw })],
    ];
    const before = await itemCount();
    const answers: string[] = [];
    for (const [label, send] of cases) {
      const res = await send();
      expect(res.status, `${label}: ${res.body}`).toBe(401);
      problem(res, 401, 'unauthenticated');
      answers.push(res.json.detail);
    }
    // Unknown and bad look the same.
    expect(new Set(answers).size).toBe(1);
    expect(await itemCount()).toBe(before);
    // Control: the same body, signed now with the form's secret, is accepted.
    expect((await submit(form, { body: raw })).status).toBe(201);
    // Within the tolerance both ways.
    expect((await submit(form, { body: { name: uniq('早') }, at: new Date(Date.now() - 4 * 60 * 1000) })).status).toBe(201);
    expect((await submit(form, { body: { name: uniq('晚') }, at: new Date(Date.now() + 4 * 60 * 1000) })).status).toBe(201);
  });

  it('several signatures: one valid one suffices', async () => {
    const form = await newForm();
    const res = await submit(form, { secrets: [newSecret(), form.secret] });
    expect(res.status, res.body).toBe(201);
  });
});

describe('bad bodies and the size limit', () => {
  it('a signed bad body → 400 naming the field (or malformed_json, 415), nothing written', async () => {
    const form = await newForm();
    const before = await itemCount();
    expectFieldError({ ...(await submit(form, { body: { name: '' } })), req: 'empty name' } as Sent, 'name');
    expectFieldError({ ...(await submit(form, { body: {} })), req: 'no name' } as Sent, 'name');
    expectFieldError({ ...(await submit(form, { body: { name: 'x', email: 'not-an-email' } })), req: 'bad email' } as Sent, 'email');
    expectFieldError({ ...(await submit(form, { body: { name: 'x', phone: 'call me' } })), req: 'bad phone' } as Sent, 'phone');
    expectFieldError({ ...(await submit(form, { body: { name: 'x', bogus: 1 } })), req: 'unknown field' } as Sent, 'bogus');
    expectFieldError({ ...(await submit(form, { body: { name: 'x', tags: 'vip' } })), req: 'tags' } as Sent, 'tags');
    expectFieldError({ ...(await submit(form, { body: { name: 'x', message: 'm'.repeat(10_001) } })), req: 'long message' } as Sent, 'message');
    expectFieldError({ ...(await submit(form, { body: '[]' })), req: 'an array' } as Sent, 'body');
    problem(await submit(form, { body: '{"name": ' }), 400, 'malformed_json');
    problem(await submit(form, { body: JSON.stringify({ name: 'x' }), headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    expect(await itemCount()).toBe(before);
  });

  it('a body over 256 KB → 413 payload_too_large, signed or not, nothing written', async () => {
    const form = await newForm();
    const before = await itemCount();
    const huge = JSON.stringify({ name: 'x', message: '中'.repeat(90_000) });
    expect(Buffer.byteLength(huge)).toBeGreaterThan(256 * 1024);
    problem(await submit(form, { body: huge }), 413, 'payload_too_large');
    problem(await call(null, 'POST', `/in/forms/${form.id}`, undefined, { raw: huge, headers: { 'content-type': 'application/json' } }), 413, 'payload_too_large');
    expect(await itemCount()).toBe(before);
  });
});

describe('secret rotation', () => {
  it('the previous secret verifies for 24 hours after a rotation, then 401; the new one throughout', async () => {
    const form = await newForm();
    const rotated = await api(root).post(`/v1/forms/${form.id}/rotate-secret`);
    expect(rotated.status, rotated.body).toBe(200);
    const rotatedAt = Date.parse(rotated.json.updatedAt);
    const next = { id: form.id, secret: rotated.json.secret as string };

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(rotatedAt + 23 * 3600_000);
    expect((await submit(form, { body: { name: uniq('旧密钥') } })).status).toBe(201);
    expect((await submit(next, { body: { name: uniq('新密钥') } })).status).toBe(201);

    vi.setSystemTime(rotatedAt + 24 * 3600_000 + 1000);
    const before = await itemCount();
    const late = await submit(form, { body: { name: uniq('过期') } });
    problem(late, 401, 'unauthenticated');
    expect(await itemCount()).toBe(before);
    expect((await submit(next, { body: { name: uniq('新密钥') } })).status).toBe(201);
  });

  it('a second rotation ends the first one\'s overlap: only the two newest secrets verify', async () => {
    const form = await newForm();
    const second = (await api(root).post(`/v1/forms/${form.id}/rotate-secret`)).json.secret as string;
    const third = (await api(root).post(`/v1/forms/${form.id}/rotate-secret`)).json.secret as string;
    problem(await submit(form), 401, 'unauthenticated');
    expect((await submit({ id: form.id, secret: second })).status).toBe(201);
    expect((await submit({ id: form.id, secret: third })).status).toBe(201);
  });
});

describe('workflows', () => {
  // Last in this file: delivering the outbox empties what the tests above read.
  it('a workflow triggered by form.submitted of this form runs once, about the new lead', async () => {
    const form = await newForm({ ownerId: 'alice' });
    const other = await newForm();
    const wf = await api(mark).post('/v1/workflows', {
      name: uniq('表单线索回访'),
      trigger: { event: 'form.submitted', conditions: { formId: form.id } },
      actions: [{ type: 'createTask', title: '回访表单线索', dueInDays: 1, assignTo: 'owner' }],
    });
    expect(wf.status, wf.body).toBe(201);
    const res = await submit(form, { body: { name: uniq('工作流线索') } });
    expect(res.status, res.body).toBe(201);
    expect((await submit(other, { body: { name: uniq('别的表单') } })).status).toBe(201);
    await deliver();
    const runs = await listAll(mark, `/v1/workflows/${wf.json.id}/runs`);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ subjectType: 'lead', subjectId: res.json.leadId, status: 'done' });
    expect((await listAll(alice, '/v1/tasks')).filter((t) => t.title === '回访表单线索')).toHaveLength(1);
  });
});
