/**
 * Lead conversion (API.md §5 leads): one transaction that turns a lead into an account (new or
 * given), a contact and optionally an opportunity; exactly one winner when conversions race;
 * idempotent retries. Through the HTTP API with real tokens, against DynamoDB Local.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { entityKey, OUTBOX_SHARDS, outboxDuePartition } from '#domain/table/keys.ts';
import { parseEvent, type DomainEvent } from '#events/catalog.ts';
import { requestsDuring } from '#test/support/request-spy.ts';
import { api, expectFieldError, expectProblem, fetchRecord, listAll, uniq, type Caller } from '#test/support/fixtures.ts';

const T = 'convert';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };
const other: Caller = { tenant: 'convert-other', user: 'root', role: 'admin' };

const token = () => uniq('k').replace(/\W/g, '').toLowerCase();
function leadBody(extra: Record<string, unknown> = {}) {
  const k = token();
  return {
    name: `王芳 ${k}`,
    company: `云帆软件 ${k} 有限公司`,
    email: `wang.${k}@yunfan.cn`,
    phone: `+86 139 ${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`,
    title: '信息部主任',
    source: 'website',
    ...extra,
  };
}
async function newLead(owner: Caller, extra: Record<string, unknown> = {}) {
  const res = await api(owner).post('/v1/leads', leadBody(extra));
  expect(res.status, res.body).toBe(201);
  return res.json as Record<string, any> & { id: string };
}

/** Every event still in the outbox of this file's table, for one tenant. */
async function events(tenant = T): Promise<DomainEvent[]> {
  const out: DomainEvent[] = [];
  for (let shard = 0; shard < OUTBOX_SHARDS; shard++) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await db.send(
        new QueryCommand({
          TableName: tableName(),
          IndexName: 'byDue',
          KeyConditionExpression: 'duePk = :p',
          ExpressionAttributeValues: { ':p': outboxDuePartition(shard) },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      out.push(...(page.Items ?? []).map((i) => parseEvent(i.event)).filter((e) => e.tenantId === tenant));
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return out;
}

const accountsNamed = async (name: string) => (await listAll(root, `/v1/accounts?q=${encodeURIComponent(name)}`)).filter((a) => a.name === name);
const contactsNamed = async (name: string) => (await listAll(root, `/v1/contacts?q=${encodeURIComponent(name)}`)).filter((c) => c.name === name);

beforeAll(async () => {
  for (const c of [alice, bob, mia, root, sam, mark, other]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
});

describe('convert: a new account and contact', () => {
  it('creates the account (named after the company, owned by the lead owner), the contact on it, and links the lead', async () => {
    const lead = await newLead(alice);
    const res = await api(alice).post(`/v1/leads/${lead.id}/convert`, {});
    expect(res.status, res.body).toBe(200);
    const { accountId, contactId } = res.json;
    expect(typeof accountId).toBe('string');
    expect(typeof contactId).toBe('string');
    expect(res.json.opportunityId).toBeUndefined();
    // The answer is the lead as it now is: converted, linked, one version on.
    expect(res.json).toMatchObject({ id: lead.id, status: 'converted', version: 2, convertedBy: 'alice', accountId, contactId });
    expect(Date.parse(res.json.convertedAt)).toBeGreaterThan(0);
    expect(res.json.updatedAt).toBe(res.json.convertedAt);
    expect((await api(alice).get(`/v1/leads/${lead.id}`)).json).toEqual(res.json);

    const account = await fetchRecord(alice, 'accounts', accountId);
    expect(account).toMatchObject({ name: lead.company, ownerId: 'alice', poolStatus: 'owned', lifecycleStage: 'prospect', tags: [], version: 1 });
    const contact = await fetchRecord(alice, 'contacts', contactId);
    expect(contact).toMatchObject({ name: lead.name, email: lead.email, phone: lead.phone, title: lead.title, accountId, ownerId: 'alice', version: 1 });
    // Customer 360 of the new account shows the contact; the team's manager sees it all.
    const view = await api(mia).get(`/v1/accounts/${accountId}/360`);
    expect(view.status).toBe(200);
    expect(view.json.contacts.map((c: { id: string }) => c.id)).toEqual([contactId]);
    expect(await accountsNamed(lead.company)).toHaveLength(1);

    // Events: lead.converted and each record's created, in the same transaction.
    const mine = (await events()).filter((e) => [lead.id, accountId, contactId].includes(e.entity.id));
    expect(mine.map((e) => e.type).sort()).toEqual(['account.created', 'contact.created', 'lead.converted', 'lead.created']);
    const converted = mine.find((e) => e.type === 'lead.converted')!;
    expect(converted.data).toMatchObject({ id: lead.id, status: 'converted', accountId, contactId, accountCreated: true, version: 2 });
    expect(converted.actor).toEqual({ userId: 'alice', role: 'rep' });
  });

  it('without a company the account takes the lead’s name; a manager converting keeps the rep as owner', async () => {
    const { company: _c, ...body } = leadBody();
    const lead = (await api(alice).post('/v1/leads', body)).json;
    const res = await api(mia).post(`/v1/leads/${lead.id}/convert`, {});
    expect(res.status, res.body).toBe(200);
    expect(res.json.convertedBy).toBe('mia');
    const account = await fetchRecord(root, 'accounts', res.json.accountId);
    expect(account).toMatchObject({ name: lead.name, ownerId: 'alice', createdBy: 'mia' });
    expect(await fetchRecord(alice, 'contacts', res.json.contactId)).toMatchObject({ ownerId: 'alice' });
    expect((await api(alice).get('/v1/accounts')).json.items.map((a: { id: string }) => a.id)).toContain(res.json.accountId);
  });
});

describe('convert: into an existing account', () => {
  it('attaches the contact to the account given; no account is created', async () => {
    const acct = (await api(alice).post('/v1/accounts', { name: uniq('既有客户') })).json;
    const lead = await newLead(alice);
    const res = await api(alice).post(`/v1/leads/${lead.id}/convert`, { accountId: acct.id });
    expect(res.status, res.body).toBe(200);
    expect(res.json.accountId).toBe(acct.id);
    expect(await fetchRecord(alice, 'contacts', res.json.contactId)).toMatchObject({ accountId: acct.id, name: lead.name });
    expect(await accountsNamed(lead.company)).toEqual([]);
    expect((await fetchRecord(alice, 'accounts', acct.id))!.version, 'the account itself is unchanged').toBe(1);
    const converted = (await events()).find((e) => e.type === 'lead.converted' && e.entity.id === lead.id)!;
    expect(converted.data).toMatchObject({ accountId: acct.id, accountCreated: false });
  });

  it('an account the caller may not open, another tenant’s or a missing one → 400 naming accountId; nothing changes', async () => {
    const bobs = (await api(bob).post('/v1/accounts', { name: uniq('bob 的客户') })).json.id as string;
    const foreign = (await api(other).post('/v1/accounts', { name: uniq('foreign') })).json.id as string;
    const lead = await newLead(alice);
    for (const accountId of [bobs, foreign, '01JZZZZZZZZZZZZZZZZZZZZZZZ']) {
      expectFieldError(await api(alice).post(`/v1/leads/${lead.id}/convert`, { accountId }), 'accountId');
    }
    expect((await api(alice).get(`/v1/leads/${lead.id}`)).json).toMatchObject({ status: 'new', version: 1 });
    expect(await contactsNamed(lead.name)).toEqual([]);
    // A manager of the team may attach it to a teammate's account.
    const res = await api(mia).post(`/v1/leads/${lead.id}/convert`, { accountId: bobs });
    expect(res.status, res.body).toBe(200);
    expect(res.json.accountId).toBe(bobs);
  });

  it('an account in the public pool → 409 account_in_pool (claim it first)', async () => {
    const acct = (await api(alice).post('/v1/accounts', { name: uniq('公海客户') })).json.id as string;
    await db.send(
      new UpdateCommand({
        TableName: tableName(),
        Key: entityKey(T, 'ACCOUNT', acct),
        // As the pool's release leaves it: no owner, out of the owner's and team's lists.
        UpdateExpression: 'SET poolStatus = :p, ownerId = :none, prevOwnerId = :prev REMOVE ownerPk, ownerSk, teamPk, teamSk, ownerTeamId',
        ExpressionAttributeValues: { ':p': 'pool', ':none': null, ':prev': 'alice' },
      }),
    );
    for (const c of [bob, root]) {
      const lead = await newLead(c);
      const res = await api(c).post(`/v1/leads/${lead.id}/convert`, { accountId: acct });
      expectProblem(res, 409, 'account_in_pool');
      expect(res.json.accountId).toBe(acct);
      expect((await api(c).get(`/v1/leads/${lead.id}`)).json.status).toBe('new');
    }
  });
});

describe('convert: custom fields', () => {
  // A tenant of its own: its field definitions would change what the other tests' records show.
  const admin: Caller = { tenant: 'convert-custom', user: 'root', role: 'admin' };
  const rep: Caller = { tenant: 'convert-custom', user: 'rita', role: 'rep', team: 'east' };

  it('the lead’s values go to the new account and the contact where they define the key with a fitting type', async () => {
    expect((await api(rep).get('/v1/tasks')).status).toBe(200);
    const put = async (entity: string, fields: unknown[]) => expect((await api(admin).put(`/v1/fields/${entity}`, { fields })).status).toBe(200);
    await put('leads', [
      { key: 'budget', label: 'Budget', type: 'number' },
      { key: 'region', label: '区域', type: 'select', options: ['华东', '华南', '华北'] },
      { key: 'interests', label: 'Interests', type: 'multiselect', options: ['erp', 'crm'] },
      { key: 'notes', label: 'Notes', type: 'text' },
    ]);
    // budget on accounts; region on both; interests on contacts with fewer options (crm only);
    // notes as a number on contacts (a type the lead's text does not fit).
    await put('accounts', [
      { key: 'budget', label: 'Budget', type: 'number' },
      { key: 'region', label: '区域', type: 'select', options: ['华东', '华南', '华北'] },
    ]);
    await put('contacts', [
      { key: 'region', label: '区域', type: 'select', options: ['华东', '华南', '华北'] },
      { key: 'interests', label: 'Interests', type: 'multiselect', options: ['crm'] },
      { key: 'notes', label: 'Notes', type: 'number' },
    ]);
    const lead = (await api(rep).post('/v1/leads', leadBody({ custom: { budget: 120000, region: '华东', interests: ['erp', 'crm'], notes: 'met at expo' } }))).json;
    expect(lead.custom).toEqual({ budget: 120000, region: '华东', interests: ['erp', 'crm'], notes: 'met at expo' });
    const done = await api(rep).post(`/v1/leads/${lead.id}/convert`, {});
    expect(done.status, done.body).toBe(200);
    const account = (await api(rep).get(`/v1/accounts/${done.json.accountId}`)).json;
    const contact = (await api(rep).get(`/v1/contacts/${done.json.contactId}`)).json;
    expect(account.custom).toEqual({ budget: 120000, region: '华东' });
    expect(contact.custom).toEqual({ region: '华东' });

    // A lead without custom values converts as before: the records carry none.
    const plain = (await api(rep).post('/v1/leads', leadBody())).json;
    const plainDone = await api(rep).post(`/v1/leads/${plain.id}/convert`, {});
    expect(plainDone.status, plainDone.body).toBe(200);
    expect((await api(rep).get(`/v1/contacts/${plainDone.json.contactId}`)).json.custom).toEqual({});
  });
});

describe('convert: rules', () => {
  it('a converted lead cannot be converted again, nor changed; a no-op PATCH is fine; deleting it keeps the customer', async () => {
    const lead = await newLead(alice);
    const first = await api(alice).post(`/v1/leads/${lead.id}/convert`, {});
    expect(first.status).toBe(200);
    const again = await api(alice).post(`/v1/leads/${lead.id}/convert`, {});
    expectProblem(again, 409, 'invalid_transition');
    expect(again.json).toMatchObject({ leadStatus: 'converted', accountId: first.json.accountId, contactId: first.json.contactId });
    for (const patch of [{ status: 'working' }, { status: 'new' }, { name: 'renamed' }, { email: null }, { ownerId: 'bob' }]) {
      const res = await api(root).patch(`/v1/leads/${lead.id}`, patch);
      expectProblem(res, 409, 'invalid_transition');
    }
    const same = await api(alice).patch(`/v1/leads/${lead.id}`, { status: 'converted', name: lead.name });
    expect(same.status, same.body).toBe(200);
    expect(same.json.version).toBe(2);
    expect(await accountsNamed(lead.company)).toHaveLength(1);

    expect((await api(alice).delete(`/v1/leads/${lead.id}`)).status).toBe(204);
    expect(await fetchRecord(alice, 'accounts', first.json.accountId)).toBeDefined();
    expect(await fetchRecord(alice, 'contacts', first.json.contactId)).toBeDefined();
  });

  it('who may convert: the lead’s writers in sales; support and marketers 403; others 404', async () => {
    const lead = await newLead(alice);
    expectProblem(await api(sam).post(`/v1/leads/${lead.id}/convert`, {}), 403, 'forbidden');
    expectProblem(await api(mark).post(`/v1/leads/${lead.id}/convert`, {}), 403, 'forbidden');
    expectProblem(await api(bob).post(`/v1/leads/${lead.id}/convert`, {}), 404, 'not_found');
    expectProblem(await api(other).post(`/v1/leads/${lead.id}/convert`, {}), 404, 'not_found');
    expect((await api(alice).get(`/v1/leads/${lead.id}`)).json.version).toBe(1);
    expect((await api(root).post(`/v1/leads/${lead.id}/convert`, {})).status).toBe(200);
  });

  it('a lead still owned by marketing is handed to sales before it converts', async () => {
    const lead = (await api(mark).post('/v1/leads', leadBody())).json;
    const refused = await api(root).post(`/v1/leads/${lead.id}/convert`, {});
    expectProblem(refused, 409, 'invalid_transition');
    expect(await accountsNamed(lead.company)).toEqual([]);
    expect((await api(mark).patch(`/v1/leads/${lead.id}`, { ownerId: 'alice' })).status).toBe(200);
    const res = await api(alice).post(`/v1/leads/${lead.id}/convert`, {});
    expect(res.status, res.body).toBe(200);
    expect(await fetchRecord(alice, 'accounts', res.json.accountId)).toMatchObject({ ownerId: 'alice' });
  });

  it('If-Match on convert: a stale version → 412 and nothing is created', async () => {
    const lead = await newLead(alice);
    await api(alice).patch(`/v1/leads/${lead.id}`, { status: 'qualified' });
    expectProblem(await api(alice).post(`/v1/leads/${lead.id}/convert`, {}, { headers: { 'if-match': '"1"' } }), 412, 'version_mismatch');
    expect(await accountsNamed(lead.company)).toEqual([]);
    const ok = await api(alice).post(`/v1/leads/${lead.id}/convert`, {}, { headers: { 'if-match': '"2"' } });
    expect(ok.status, ok.body).toBe(200);
    expect(ok.json.version).toBe(3);
  });

  it('bad bodies → 400 naming the field', async () => {
    const lead = await newLead(alice);
    expectFieldError(await api(alice).post(`/v1/leads/${lead.id}/convert`, { accountId: 42 }), 'accountId');
    expectFieldError(await api(alice).post(`/v1/leads/${lead.id}/convert`, { contactId: 'x' }), 'contactId');
    expectFieldError(await api(alice).post(`/v1/leads/${lead.id}/convert`, { opportunity: { name: 'x' } }), 'amount');
    expectFieldError(await api(alice).post(`/v1/leads/${lead.id}/convert`, { opportunity: { name: 'x', amount: 1.001 } }), 'amount');
    expectFieldError(await api(alice).post(`/v1/leads/${lead.id}/convert`, { opportunity: { name: 'x', amount: 10, stageId: 's' } }), 'stageId');
    expect((await api(alice).get(`/v1/leads/${lead.id}`)).json.version).toBe(1);
  });
});

describe('convert: with an opportunity', () => {
  it('creates the opportunity on the new account, with the contact, owned by the lead owner, in the default pipeline', async () => {
    const lead = await newLead(alice);
    const res = await api(mia).post(`/v1/leads/${lead.id}/convert`, {
      opportunity: { name: '年度订阅 Annual plan', amount: 128000.5, expectedCloseDate: '2027-03-31' },
    });
    expect(res.status, res.body).toBe(200);
    const { accountId, contactId, opportunityId } = res.json;
    expect(typeof opportunityId).toBe('string');
    const opp = await api(alice).get(`/v1/opportunities/${opportunityId}`);
    expect(opp.status, opp.body).toBe(200);
    expect(opp.json).toMatchObject({
      accountId,
      contactIds: [contactId],
      name: '年度订阅 Annual plan',
      amount: 128000.5,
      currency: 'CNY',
      expectedCloseDate: '2027-03-31',
      ownerId: 'alice',
      status: 'open',
      createdBy: 'mia',
    });
    const pipelines = await api(root).get('/v1/pipelines');
    const def = pipelines.json.items.find((p: { isDefault: boolean }) => p.isDefault);
    expect(opp.json.pipelineId).toBe(def.id);
    expect(opp.json.stageId).toBe(def.stages[0].id);

    const view = await api(alice).get(`/v1/accounts/${accountId}/360`);
    expect(view.json.opportunities.map((o: { id: string }) => o.id)).toEqual([opportunityId]);
    const types = (await events()).filter((e) => [lead.id, accountId, contactId, opportunityId].includes(e.entity.id)).map((e) => e.type);
    expect(types.sort()).toEqual(['account.created', 'contact.created', 'lead.converted', 'lead.created', 'opportunity.created']);
    const converted = (await events()).find((e) => e.type === 'lead.converted' && e.entity.id === lead.id)!;
    expect(converted.data).toMatchObject({ opportunityId, accountCreated: true });
  });

  it('without expectedCloseDate it closes 30 days out; into an existing account it lands there', async () => {
    const acct = (await api(alice).post('/v1/accounts', { name: uniq('有商机的客户') })).json;
    const lead = await newLead(alice);
    const before = Date.now();
    const res = await api(alice).post(`/v1/leads/${lead.id}/convert`, { accountId: acct.id, opportunity: { name: '试点项目', amount: 0 } });
    expect(res.status, res.body).toBe(200);
    const opp = (await api(alice).get(`/v1/opportunities/${res.json.opportunityId}`)).json;
    expect(opp).toMatchObject({ accountId: acct.id, contactIds: [res.json.contactId], amount: 0 });
    const after = Date.now();
    // The conversion's date + 30 days (the request ran between `before` and `after`).
    const plus30 = (ms: number) => new Date(ms + 30 * 86_400_000).toISOString().slice(0, 10);
    expect([plus30(before), plus30(after)]).toContain(opp.expectedCloseDate);
    const list = await listAll(alice, `/v1/opportunities?accountId=${acct.id}`);
    expect(list.map((o) => o.id)).toEqual([res.json.opportunityId]);
  });

  it('a bad pipeline, or an amount with 3 decimals → 400 naming it under opportunity; nothing is created', async () => {
    const lead = await newLead(alice);
    const bad = await api(alice).post(`/v1/leads/${lead.id}/convert`, { opportunity: { name: 'x', amount: 1, pipelineId: '01JZZZZZZZZZZZZZZZZZZZZZZZ' } });
    expectFieldError(bad, 'pipelineId');
    expect(bad.json.errors.some((e: { path: string }) => e.path.startsWith('body.opportunity'))).toBe(true);
    expectFieldError(await api(alice).post(`/v1/leads/${lead.id}/convert`, { opportunity: { name: 'x', amount: 1.234 } }), 'amount');
    expect((await api(alice).get(`/v1/leads/${lead.id}`)).json).toMatchObject({ status: 'new', version: 1 });
    expect(await accountsNamed(lead.company)).toEqual([]);
  });

  it('concurrent conversions with an opportunity: one winner, one opportunity', async () => {
    const lead = await newLead(alice);
    const answers = await Promise.all(
      [alice, mia, root, alice].map((c) => api(c).post(`/v1/leads/${lead.id}/convert`, { opportunity: { name: '并发商机', amount: 99.99 } })),
    );
    expect(answers.filter((a) => a.status === 200), answers.map((a) => a.status).join()).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 200)) expectProblem(a, 409, 'invalid_transition');
    const winner = answers.find((a) => a.status === 200)!;
    const opps = await listAll(root, `/v1/opportunities?accountId=${winner.json.accountId}`);
    expect(opps.map((o) => o.id)).toEqual([winner.json.opportunityId]);
    expect(await accountsNamed(lead.company)).toHaveLength(1);
  });
});

/** The DynamoDB requests sent while `run` runs: operation and, for transactions, item count. */
const requestsWhile = async (run: () => Promise<unknown>) => (await requestsDuring(run)).requests;

describe('convert: one transaction', () => {
  it('reads the lead once and writes everything in ONE TransactWriteItems, well under 100 items', async () => {
    const lead = await newLead(alice);
    const calls = await requestsWhile(async () => {
      const res = await api(alice).post(`/v1/leads/${lead.id}/convert`, {}, { headers: { 'idempotency-key': `one-${token()}` } });
      expect(res.status, res.body).toBe(200);
    });
    // GetItem (idempotency record), GetItem (the lead), then the one transaction:
    // lead, 3 lead guards released, account + event + name guard, contact + event + 2 guards,
    // lead.converted, idempotency record.
    const transactions = calls.filter((c) => c.startsWith('TransactWriteItems'));
    expect(transactions, calls.join(', ')).toHaveLength(1);
    expect(calls.filter((c) => !/^(GetItem|BatchGetItem|Query)$/.test(c)), calls.join(', ')).toEqual(transactions);
    const items = Number(/\[(\d+)\]/.exec(transactions[0]!)![1]);
    expect(items).toBeGreaterThanOrEqual(13);
    expect(items).toBeLessThanOrEqual(100);

    const into = await newLead(alice);
    const acct = (await api(alice).post('/v1/accounts', { name: uniq('一次事务') })).json.id as string;
    const intoCalls = await requestsWhile(async () => {
      expect((await api(alice).post(`/v1/leads/${into.id}/convert`, { accountId: acct })).status).toBe(200);
    });
    expect(intoCalls.filter((c) => c.startsWith('BatchGetItem')), `lead and account in one read: ${intoCalls}`).toHaveLength(1);
    expect(intoCalls.filter((c) => c.startsWith('TransactWriteItems')), intoCalls.join(', ')).toHaveLength(1);
  });
});

describe('convert: races and retries', () => {
  it('concurrent conversions of one lead: exactly one 200, the others 409 invalid_transition, one account and one contact', async () => {
    for (let round = 0; round < 3; round++) {
      const lead = await newLead(alice);
      const callers = [alice, alice, mia, root, alice, mia];
      const answers = await Promise.all(callers.map((c) => api(c).post(`/v1/leads/${lead.id}/convert`, {})));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 200), `statuses ${statuses}`).toHaveLength(1);
      for (const a of answers.filter((x) => x.status !== 200)) expectProblem(a, 409, 'invalid_transition');
      const winner = answers.find((a) => a.status === 200)!;
      expect(await accountsNamed(lead.company)).toHaveLength(1);
      expect((await accountsNamed(lead.company))[0].id).toBe(winner.json.accountId);
      expect((await contactsNamed(lead.name)).map((c) => c.id)).toEqual([winner.json.contactId]);
      const converted = (await events()).filter((e) => e.type === 'lead.converted' && e.entity.id === lead.id);
      expect(converted).toHaveLength(1);
      expect((await api(alice).get(`/v1/leads/${lead.id}`)).json).toEqual(winner.json);
    }
  });

  it('a conversion racing a PATCH of the lead: both land, in some order, and the contact has the lead’s data as converted', async () => {
    const lead = await newLead(alice);
    const [patch, convert] = await Promise.all([
      api(alice).patch(`/v1/leads/${lead.id}`, { title: 'CIO 首席信息官' }),
      api(alice).post(`/v1/leads/${lead.id}/convert`, {}),
    ]);
    expect(convert.status, convert.body).toBe(200);
    const contact = await fetchRecord(alice, 'contacts', convert.json.contactId);
    if (patch.status === 200) {
      // The PATCH landed first (version 2), and the conversion saw it.
      expect(patch.json.version).toBe(2);
      expect(convert.json.version).toBe(3);
      expect(contact!.title).toBe('CIO 首席信息官');
    } else {
      // The conversion landed first: the PATCH of a converted lead is refused.
      expectProblem(patch, 409, 'invalid_transition');
      expect(convert.json.version).toBe(2);
      expect(contact!.title).toBe(lead.title);
    }
  });

  it('Idempotency-Key: a retry gets the first answer and creates nothing; another body with the key → 409', async () => {
    const lead = await newLead(alice);
    const acct = (await api(alice).post('/v1/accounts', { name: uniq('幂等客户') })).json.id as string;
    const key = { headers: { 'idempotency-key': `convert-${token()}` } };
    const first = await api(alice).post(`/v1/leads/${lead.id}/convert`, {}, key);
    expect(first.status, first.body).toBe(200);
    const second = await api(alice).post(`/v1/leads/${lead.id}/convert`, {}, key);
    expect(second.status).toBe(200);
    expect(second.json).toEqual(first.json);
    expect(await accountsNamed(lead.company)).toHaveLength(1);
    expect(await contactsNamed(lead.name)).toHaveLength(1);
    expectProblem(await api(alice).post(`/v1/leads/${lead.id}/convert`, { accountId: acct }, key), 409, 'idempotency_key_reused');
    // Without the key, the second conversion is refused as such.
    expectProblem(await api(alice).post(`/v1/leads/${lead.id}/convert`, {}), 409, 'invalid_transition');
  });

  it('concurrent retries with one Idempotency-Key: every answer is the same 200, one conversion', async () => {
    const lead = await newLead(alice);
    const key = { headers: { 'idempotency-key': `burst-${token()}` } };
    const answers = await Promise.all(Array.from({ length: 6 }, () => api(alice).post(`/v1/leads/${lead.id}/convert`, {}, key)));
    for (const a of answers) expect(a.status, a.body).toBe(200);
    expect(new Set(answers.map((a) => a.json.accountId)).size).toBe(1);
    expect(await accountsNamed(lead.company)).toHaveLength(1);
    expect(await contactsNamed(lead.name)).toHaveLength(1);
  });
});
