/**
 * Account merge (API.md §5): `POST /v1/accounts/{id}/merge {"sourceId"}`. The target absorbs
 * every child of the source, its tags and the fields it lacks; the source's guards are
 * released (or handed over); the source is gone (404). Big merges, merges interrupted
 * halfway and resumed, and two managers merging the same pair at once.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { UseCaseContext } from '#domain/context.ts';
import { absorb, mergeAccounts } from '#domain/accounts/merge.ts';
import type { Account } from '#domain/accounts/account.ts';
import { insert, stamp } from '#domain/records.ts';
import { taskSpec, type Task } from '#domain/tasks/task.ts';
import { accountCollection, entityKey } from '#domain/table/keys.ts';
import { getItem, queryAll } from '#domain/table/query.ts';
import type { DomainEvent } from '#events/catalog.ts';
import { deliverPending } from '#events/outbox.ts';
import { call, type ApiResponse } from '#test/support/api.ts';
import { api, expectProblem, fetchRecord, listAll, uniq, type Caller } from '#test/support/fixtures.ts';

const T = 'merge';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const bob: Caller = { tenant: T, user: 'bob', role: 'rep', team: 'east' };
const wes: Caller = { tenant: T, user: 'wes', role: 'rep', team: 'west' };
const mia: Caller = { tenant: T, user: 'mia', role: 'manager', team: 'east' };
const meg: Caller = { tenant: T, user: 'meg', role: 'manager', team: 'east' };
const root: Caller = { tenant: T, user: 'root', role: 'admin' };
const sam: Caller = { tenant: T, user: 'sam', role: 'support' };
const mark: Caller = { tenant: T, user: 'mark', role: 'marketer' };

const word = () => uniq('m').replace(/\W/g, '').toLowerCase();
let phoneSeq = 0;
const mobile = () => `137${String(Date.now() % 1e4).padStart(4, '0')}${String(++phoneSeq).padStart(4, '0')}`;

async function created(res: Promise<ApiResponse>): Promise<Record<string, any>> {
  const r = await res;
  expect(r.status, r.body).toBe(201);
  return r.json;
}

const account = (who: Caller, body: Record<string, unknown> = {}) => created(api(who).post('/v1/accounts', { name: `Account ${word()}`, ...body }));

/** Everything in an account's collection except the account: what a merge must move. */
async function childrenOf(accountId: string): Promise<Record<string, any>[]> {
  const items = await queryAll({ index: 'byParent', pk: accountCollection(T, accountId), sk: { between: ['1', '~'] } });
  return items;
}

/** Outbox events not yet seen: delivered to a collecting publisher (each file has its own table). */
async function drainEvents(): Promise<DomainEvent[]> {
  const got: DomainEvent[] = [];
  for (;;) {
    const report = await deliverPending({ publish: async (events) => (got.push(...events), { failedIds: [] }) });
    if (report.delivered === 0) return got;
  }
}

beforeEach(async () => {
  await drainEvents();
});

interface Family {
  contacts: string[];
  activities: string[];
  tasks: string[];
  doneTasks: string[];
}

/** Children of every kind on an account: contacts (one with an activity logged through it), activities, open and done tasks. */
async function family(owner: Caller, accountId: string, n = { contacts: 2, activities: 3, tasks: 2, done: 1 }): Promise<Family> {
  const f: Family = { contacts: [], activities: [], tasks: [], doneTasks: [] };
  for (let i = 0; i < n.contacts; i++) f.contacts.push((await created(api(owner).post('/v1/contacts', { name: `联系人 ${word()}`, accountId, email: `${word()}@c.example.cn` }))).id);
  for (let i = 0; i < n.activities; i++) {
    const via = i === 0 && f.contacts[0] ? { contactId: f.contacts[0] } : { accountId };
    f.activities.push((await created(api(owner).post('/v1/activities', { type: 'call', subject: `call ${i}`, occurredAt: `2026-0${1 + (i % 9)}-01T00:00:00Z`, ...via }))).id);
  }
  for (let i = 0; i < n.tasks; i++) f.tasks.push((await created(api(owner).post('/v1/tasks', { title: `task ${i}`, dueAt: '2027-01-01T00:00:00Z', accountId }))).id);
  for (let i = 0; i < n.done; i++) {
    const id = (await created(api(owner).post('/v1/tasks', { title: `done ${i}`, dueAt: '2026-01-01T00:00:00Z', accountId }))).id;
    expect((await api(owner).patch(`/v1/tasks/${id}`, { status: 'done' })).status).toBe(200);
    f.doneTasks.push(id);
  }
  return f;
}

describe('merge: what the target absorbs', () => {
  it('moves every child, unites tags, keeps the target’s fields and fills its empty ones, releases or hands over guards; the source is gone', async () => {
    const w = word();
    const [p1, p2] = [mobile(), mobile()];
    const target = await account(alice, { name: `Target ${w}`, phone: p1, industry: 'Retail', tags: ['a', 'b'] });
    const source = await account(bob, {
      name: `Source ${w}`,
      phone: p2,
      email: `hello@${w}.cn`,
      domain: `www.${w}.com.cn`,
      industry: 'Manufacturing',
      tier: 'A',
      address: '上海市浦东新区',
      tags: ['b', 'c'],
    });
    const tf = await family(alice, target.id, { contacts: 1, activities: 1, tasks: 1, done: 0 });
    const sf = await family(bob, source.id);
    const targetBefore = (await fetchRecord(root, 'accounts', target.id))!;
    const sourceBefore = (await fetchRecord(root, 'accounts', source.id))!;
    await drainEvents();

    const res = await api(mia).post(`/v1/accounts/${target.id}/merge`, { sourceId: source.id });
    expect(res.status, res.body).toBe(200);
    expect(res.headers.etag).toBe(`"${targetBefore.version + 1}"`);
    const merged = res.json;
    expect(merged).toMatchObject({
      id: target.id,
      name: `Target ${w}`,
      ownerId: 'alice',
      phone: p1, // both set: the target's
      industry: 'Retail',
      email: `hello@${w}.cn`, // the target had none: the source's
      domain: `${w}.com.cn`,
      tier: 'A',
      address: '上海市浦东新区',
      tags: ['a', 'b', 'c'],
      version: targetBefore.version + 1,
    });
    expect(merged.lastFollowUpAt).toBe([targetBefore.lastFollowUpAt, sourceBefore.lastFollowUpAt].sort().at(-1));
    expect(await fetchRecord(root, 'accounts', target.id)).toEqual(merged);

    // The source is gone.
    expectProblem({ ...(await api(root).get(`/v1/accounts/${source.id}`)), req: 'GET source' }, 404, 'not_found');
    expect(await childrenOf(source.id)).toEqual([]);

    // Every child now points at the target, moved exactly once (version + 1).
    const all = [...sf.contacts, ...sf.activities, ...sf.tasks, ...sf.doneTasks];
    const collection = await childrenOf(target.id);
    const onTarget = new Set(collection.map((i) => i.id as string));
    for (const id of [...all, ...tf.contacts, ...tf.activities, ...tf.tasks]) expect(onTarget.has(id), id).toBe(true);
    expect(collection).toHaveLength(all.length + 3);
    for (const id of sf.contacts) expect((await fetchRecord(root, 'contacts', id))!).toMatchObject({ accountId: target.id, version: 2 });
    for (const id of sf.activities) expect((await fetchRecord(root, 'activities', id))!).toMatchObject({ accountId: target.id, version: 2 });
    for (const id of sf.tasks) expect((await fetchRecord(root, 'tasks', id))!).toMatchObject({ accountId: target.id, version: 2 });
    for (const id of sf.doneTasks) expect((await fetchRecord(root, 'tasks', id))!).toMatchObject({ accountId: target.id, status: 'done', version: 3 });

    // Customer 360 and the account's lists show them.
    const view = (await api(alice).get(`/v1/accounts/${target.id}/360`)).json;
    expect(view.contacts.map((c: { id: string }) => c.id).sort()).toEqual([...tf.contacts, ...sf.contacts].sort());
    expect(view.activities.map((c: { id: string }) => c.id).sort()).toEqual([...tf.activities, ...sf.activities].sort());
    expect(view.tasks.map((c: { id: string }) => c.id).sort()).toEqual([...tf.tasks, ...sf.tasks].sort());
    expect((await listAll(alice, `/v1/contacts?accountId=${target.id}`)).map((c) => c.id).sort()).toEqual([...tf.contacts, ...sf.contacts].sort());
    // The activity logged through a contact is listed with that contact.
    expect((await listAll(mia, `/v1/activities?contactId=${sf.contacts[0]}`)).map((a) => a.id)).toEqual([sf.activities[0]]);

    // Guards: the source's name and phone are free; its email and domain now belong to the target.
    await created(api(wes).post('/v1/accounts', { name: `SOURCE ${w} Inc.`, phone: p2 }));
    for (const clash of [{ email: `HELLO@${w}.cn` }, { domain: `${w}.com.cn` }, { phone: p1 }]) {
      const dup = await api(wes).post('/v1/accounts', { name: `another ${word()}`, ...clash });
      expectProblem({ ...dup, req: JSON.stringify(clash) }, 409, 'duplicate');
      expect(dup.json.existingId).toBe(target.id);
    }

    // Events: one summary, the target's update, one update per moved child; no deletion of the source.
    const events = await drainEvents();
    const mergedEvents = events.filter((e) => e.type === 'account.merged');
    expect(mergedEvents).toHaveLength(1);
    expect(mergedEvents[0]!.data).toMatchObject({ targetId: target.id, sourceId: source.id, source: { id: source.id, name: `Source ${w}` } });
    expect(events.filter((e) => e.type === 'account.deleted')).toEqual([]);
    expect(events.filter((e) => e.type === 'account.updated').map((e) => e.entity.id)).toEqual([target.id]);
    const childUpdates = events.filter((e) => /^(contact|activity|task)\.updated$/.test(e.type));
    expect(childUpdates.map((e) => e.entity.id).sort()).toEqual([...all].sort());
    for (const e of childUpdates) expect((e.data as { changed: string[] }).changed).toEqual(['accountId']);
  });

  it('opportunities, their quotes and orders move too (every kind registered in domain/record-specs.ts)', async () => {
    const t = await account(alice);
    const s = await account(alice);
    const opp = await created(api(alice).post('/v1/opportunities', { accountId: s.id, name: `商机 ${word()}`, amount: 50000, expectedCloseDate: '2027-06-30' }));
    const quote = await created(
      api(alice).post(`/v1/opportunities/${opp.id}/quotes`, { lines: [{ product: 'CRM license', quantity: 2, unitPrice: 1000 }] }),
    );
    const order = await created(api(alice).post('/v1/orders', { accountId: s.id, amount: 2000, signedAt: '2026-06-30T08:00:00Z' }));

    const res = await api(mia).post(`/v1/accounts/${t.id}/merge`, { sourceId: s.id });
    expect(res.status, res.body).toBe(200);
    expect(await childrenOf(s.id)).toEqual([]);
    for (const [collection, id] of [['opportunities', opp.id], ['quotes', quote.id], ['orders', order.id]] as const) {
      const rec = await fetchRecord(root, collection, id);
      expect(rec, `${collection} ${id}`).toMatchObject({ accountId: t.id, version: (collection === 'opportunities' ? opp : collection === 'quotes' ? quote : order).version + 1 });
    }
    const view = (await api(alice).get(`/v1/accounts/${t.id}/360`)).json;
    expect(view.opportunities.map((x: { id: string }) => x.id)).toEqual([opp.id]);
    expect(view.quotes.map((x: { id: string }) => x.id)).toEqual([quote.id]);
    expect(view.orders.map((x: { id: string }) => x.id)).toEqual([order.id]);
    expect((await listAll(alice, `/v1/opportunities/${opp.id}/quotes`)).map((x) => x.id)).toEqual([quote.id]);
    expect((await listAll(alice, `/v1/orders?accountId=${t.id}`)).map((x) => x.id)).toEqual([order.id]);
    // The count the account keeps of its open opportunities (pool exemption) follows them.
    const stored = await getItem(entityKey(T, 'ACCOUNT', t.id));
    expect(stored?.openOpportunityCount ?? 0).toBe(1);
  });

  it('who may merge: managers within their team and admins; visibility first', async () => {
    const t = await account(alice);
    const s = await account(alice);
    const western = await account(wes);
    const bobs = await account(bob);
    // Support and marketers read accounts: their role is refused.
    for (const who of [sam, mark]) expectProblem({ ...(await api(who).post(`/v1/accounts/${t.id}/merge`, { sourceId: s.id })), req: who.role }, 403, 'forbidden');
    // A rep: 403 on its own accounts, 404 on another rep's.
    expectProblem({ ...(await api(alice).post(`/v1/accounts/${t.id}/merge`, { sourceId: s.id })), req: 'rep own' }, 403, 'forbidden');
    expectProblem({ ...(await api(bob).post(`/v1/accounts/${t.id}/merge`, { sourceId: bobs.id })), req: 'rep other' }, 404, 'not_found');
    // A manager: a source outside its team is one it cannot open (400 on sourceId, as for any id in a body).
    const outside = await api(mia).post(`/v1/accounts/${t.id}/merge`, { sourceId: western.id });
    expectProblem({ ...outside, req: 'manager, source outside team' }, 400, 'validation_failed');
    expect(outside.json.errors[0].path).toBe('body.sourceId');
    expectProblem({ ...(await api(mia).post(`/v1/accounts/${western.id}/merge`, { sourceId: t.id })), req: 'manager, target outside team' }, 404, 'not_found');
    // Itself, a missing one, another tenant's: 400 on sourceId.
    for (const sourceId of [t.id, '01JZZZZZZZZZZZZZZZZZZZZZZZ']) {
      const r = await api(mia).post(`/v1/accounts/${t.id}/merge`, { sourceId });
      expectProblem({ ...r, req: sourceId }, 400, 'validation_failed');
    }
    const foreign = await account({ tenant: 'merge-other', user: 'olga', role: 'rep', team: 'east' });
    expectProblem({ ...(await api(root).post(`/v1/accounts/${t.id}/merge`, { sourceId: foreign.id })), req: 'foreign' }, 400, 'validation_failed');
    // None of that changed anything.
    expect((await fetchRecord(root, 'accounts', t.id))!.version).toBe(1);
    expect((await fetchRecord(root, 'accounts', s.id))!.version).toBe(1);
    // An admin merges across teams.
    const across = await api(root).post(`/v1/accounts/${t.id}/merge`, { sourceId: western.id });
    expect(across.status, across.body).toBe(200);
  });

  it('Idempotency-Key: a repeat answers the first 200 and merges nothing twice; a finished merge asked again answers 200 as well', async () => {
    const t = await account(alice);
    const s = await account(alice);
    await family(alice, s.id, { contacts: 1, activities: 1, tasks: 1, done: 0 });
    const headers = { 'idempotency-key': `merge-${word()}` };
    const first = await api(mia).post(`/v1/accounts/${t.id}/merge`, { sourceId: s.id }, { headers });
    expect(first.status, first.body).toBe(200);
    const again = await api(mia).post(`/v1/accounts/${t.id}/merge`, { sourceId: s.id }, { headers });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    // Without the key (a client that lost the answer): the same target, not merged again.
    const plain = await api(mia).post(`/v1/accounts/${t.id}/merge`, { sourceId: s.id });
    expect(plain.status, plain.body).toBe(200);
    expect(plain.json).toEqual(first.json);
    // Into another target, the source no longer exists.
    const other = await account(alice);
    expectProblem({ ...(await api(mia).post(`/v1/accounts/${other.id}/merge`, { sourceId: s.id })), req: 'gone' }, 400, 'validation_failed');
  });
});

describe('absorb: the target after the merge (pure)', () => {
  const base = { createdAt: 'x', updatedAt: 'x', version: 3, ownerId: 'alice', lifecycleStage: 'prospect', poolStatus: 'owned', ownerSince: null, createdBy: 'alice' } as const;
  it('keeps the target’s fields, fills the empty ones, unites tags (at most 100), takes the later follow-up and adds the child counters', () => {
    const target = { ...base, id: 't', name: 'T', phone: '1', tags: ['a', 'b'], lastFollowUpAt: '2026-01-01T00:00:00.000Z', openOpportunityCount: 1 } as unknown as Account;
    const source = {
      ...base,
      id: 's',
      name: 'S',
      phone: '2',
      email: 'e@x.cn',
      lifecycleStage: 'customer',
      tags: ['b', ...Array.from({ length: 120 }, (_, i) => `s${i}`)],
      lastFollowUpAt: '2026-02-01T00:00:00.000Z',
      openOpportunityCount: 2,
      wonOpportunityCount: 1,
    } as unknown as Account;
    const next = absorb(target, source) as unknown as Record<string, unknown>;
    expect(next).toMatchObject({ id: 't', name: 'T', phone: '1', email: 'e@x.cn', lifecycleStage: 'prospect', ownerId: 'alice', lastFollowUpAt: '2026-02-01T00:00:00.000Z', openOpportunityCount: 3, wonOpportunityCount: 1 });
    expect((next.tags as string[]).slice(0, 3)).toEqual(['a', 'b', 's0']);
    expect(next.tags).toHaveLength(100);
    expect(absorb(target, undefined)).toBe(target);
  });
});

describe('merge: size, interruption, races', () => {
  it('an account with 500 children merges completely', { timeout: 240_000 }, async () => {
    const t = await account(alice);
    const s = await account(alice);
    // 100 contacts, 300 activities, 100 tasks.
    const made: string[] = [];
    const make = async (url: string, body: Record<string, unknown>) => made.push((await created(api(alice).post(url, body))).id);
    for (let i = 0; i < 100; i++) await make('/v1/contacts', { name: `批量 ${i}`, accountId: s.id });
    for (let i = 0; i < 300; i++) await make('/v1/activities', { type: 'note', subject: `note ${i}`, accountId: s.id, occurredAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() });
    for (let i = 0; i < 100; i++) await make('/v1/tasks', { title: `task ${i}`, dueAt: '2027-01-01T00:00:00Z', accountId: s.id });
    expect(await childrenOf(s.id)).toHaveLength(500);

    const res = await api(root).post(`/v1/accounts/${t.id}/merge`, { sourceId: s.id });
    expect(res.status, res.body).toBe(200);
    expect(await childrenOf(s.id)).toEqual([]);
    const moved = await childrenOf(t.id);
    expect(moved.map((i) => i.id).sort()).toEqual([...made].sort());
    expect(moved.every((i) => i.accountId === t.id && i.version === 2)).toBe(true);
  });

  it('interrupted halfway, then retried: finishes, nothing lost, nothing moved twice; meanwhile the pair is locked', async () => {
    const t = await account(alice);
    const s = await account(alice);
    const made: string[] = [];
    for (let i = 0; i < 60; i++) made.push((await created(api(alice).post('/v1/activities', { type: 'note', subject: `n${i}`, accountId: s.id }))).id);
    for (let i = 0; i < 20; i++) made.push((await created(api(alice).post('/v1/contacts', { name: `c${i}`, accountId: s.id }))).id);
    const sourceVersion = (await fetchRecord(root, 'accounts', s.id))!.version;
    await drainEvents();

    // The crash: after the second batch (50 children) the process dies.
    const ctx: UseCaseContext = { identity: { tenantId: T, userId: 'mia', role: 'manager', teamId: 'east' }, now: new Date() };
    await expect(
      mergeAccounts(ctx, t.id, { sourceId: s.id }, {
        afterBatch: (moved) => {
          if (moved >= 50) throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    const left = await childrenOf(s.id);
    expect(left).toHaveLength(30);
    expect(await childrenOf(t.id)).toHaveLength(50);
    expect((await fetchRecord(root, 'accounts', s.id))!.version, 'the source is still there, unchanged').toBe(sourceVersion);

    // While it is unfinished: the source cannot go elsewhere, nor be deleted, nor the target be merged away.
    const third = await account(alice);
    expectProblem({ ...(await api(mia).post(`/v1/accounts/${third.id}/merge`, { sourceId: s.id })), req: 'elsewhere' }, 409, 'merge_in_progress');
    expectProblem({ ...(await api(mia).post(`/v1/accounts/${third.id}/merge`, { sourceId: t.id })), req: 'target away' }, 409, 'merge_in_progress');
    expectProblem({ ...(await api(mia).post(`/v1/accounts/${s.id}/merge`, { sourceId: third.id })), req: 'into the source' }, 409, 'merge_in_progress');
    expectProblem({ ...(await api(alice).delete(`/v1/accounts/${s.id}`)), req: 'delete source' }, 409, 'merge_in_progress');
    expectProblem({ ...(await api(alice).delete(`/v1/accounts/${t.id}`)), req: 'delete target' }, 409, 'merge_in_progress');

    // The retry finishes it.
    const res = await api(mia).post(`/v1/accounts/${t.id}/merge`, { sourceId: s.id });
    expect(res.status, res.body).toBe(200);
    expect(await childrenOf(s.id)).toEqual([]);
    const moved = await childrenOf(t.id);
    expect(moved.map((i) => i.id).sort()).toEqual([...made].sort());
    expect(moved.every((i) => i.version === 2), 'each child moved exactly once').toBe(true);
    const events = await drainEvents();
    const childUpdates = events.filter((e) => e.type === 'activity.updated' || e.type === 'contact.updated');
    expect(childUpdates.map((e) => e.entity.id).sort(), 'one update event per child, across both attempts').toEqual([...made].sort());
    expect(events.filter((e) => e.type === 'account.merged')).toHaveLength(1);
    expectProblem({ ...(await api(root).get(`/v1/accounts/${s.id}`)), req: 'GET source' }, 404, 'not_found');

    // Afterwards the target is free again: it absorbs more, and may be deleted.
    expect((await api(mia).post(`/v1/accounts/${t.id}/merge`, { sourceId: third.id })).status).toBe(200);
    expect((await api(alice).delete(`/v1/accounts/${t.id}`)).status).toBe(204);
  });

  it('a child that lands on the source after the finish (a create racing the merge) is swept into the target by a retry', async () => {
    const t = await account(alice);
    const s = await account(alice);
    for (let i = 0; i < 3; i++) await created(api(alice).post('/v1/tasks', { title: `t${i}`, dueAt: '2027-01-01T00:00:00Z', accountId: s.id }));
    const ctx: UseCaseContext = { identity: { tenantId: T, userId: 'root', role: 'admin' }, now: new Date() };
    let batches = 0;
    const merged = await mergeAccounts(ctx, t.id, { sourceId: s.id }, { afterBatch: () => void batches++ });
    expect(merged.id).toBe(t.id);
    expect(batches).toBe(1);
    // A task whose create read the source before the merge and committed after it.
    const late = stamp<Task>(ctx, { title: 'late', dueAt: '2027-01-01T00:00:00Z', assigneeId: 'alice', status: 'open', accountId: s.id, createdBy: 'alice' }, { ownerId: 'alice', ownerTeamId: 'east' });
    await insert(ctx, taskSpec, late).commit(undefined);
    expect((await childrenOf(s.id)).map((i) => i.id)).toEqual([late.id]);

    const again = await api(root).post(`/v1/accounts/${t.id}/merge`, { sourceId: s.id });
    expect(again.status, again.body).toBe(200);
    expect(again.json.version).toBe(merged.version);
    expect(await childrenOf(s.id)).toEqual([]);
    expect((await childrenOf(t.id)).map((i) => i.id)).toContain(late.id);
    expect((await fetchRecord(root, 'tasks', late.id))!).toMatchObject({ accountId: t.id, version: 2 });
  });

  it('two managers merge the same pair at the same moment: one merge, both 200, nothing moved twice', async () => {
    const t = await account(alice, { tags: ['t'] });
    const s = await account(bob, { tags: ['s'], email: `race@${word()}.cn` });
    const made: string[] = [];
    for (let i = 0; i < 40; i++) made.push((await created(api(bob).post('/v1/activities', { type: 'note', subject: `n${i}`, accountId: s.id }))).id);
    for (let i = 0; i < 20; i++) made.push((await created(api(bob).post('/v1/contacts', { name: `c${i}`, accountId: s.id, phone: mobile() }))).id);
    const before = (await fetchRecord(root, 'accounts', t.id))!;
    await drainEvents();

    const answers = await Promise.all([mia, meg].map((m) => call(m, 'POST', `/v1/accounts/${t.id}/merge`, { sourceId: s.id })));
    for (const a of answers) expect(a.status, a.body).toBe(200);
    for (const a of answers) expect(a.json).toMatchObject({ id: t.id, tags: ['t', 's'], version: before.version + 1 });
    expect(answers[0]!.json).toEqual(answers[1]!.json);

    const after = (await fetchRecord(root, 'accounts', t.id))!;
    expect(after.version, 'the target changed once').toBe(before.version + 1);
    expect(await childrenOf(s.id)).toEqual([]);
    const moved = await childrenOf(t.id);
    expect(moved.map((i) => i.id).sort()).toEqual([...made].sort());
    expect(moved.every((i) => i.version === 2), 'each child moved exactly once').toBe(true);
    const events = await drainEvents();
    expect(events.filter((e) => e.type === 'account.merged')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'account.updated')).toHaveLength(1);
    expect(events.filter((e) => e.type.endsWith('.updated') && e.entity.type !== 'account').map((e) => e.entity.id).sort()).toEqual([...made].sort());
  });

  it('two managers merging two sources into one target at once: both land, in turn', async () => {
    const t = await account(alice, { tags: ['t'] });
    const s1 = await account(alice, { tags: ['one'] });
    const s2 = await account(bob, { tags: ['two'] });
    for (const [owner, s] of [[alice, s1], [bob, s2]] as const) {
      for (let i = 0; i < 10; i++) await created(api(owner).post('/v1/tasks', { title: `t${i}`, dueAt: '2027-01-01T00:00:00Z', accountId: s.id }));
    }
    const answers = await Promise.all([
      call(mia, 'POST', `/v1/accounts/${t.id}/merge`, { sourceId: s1.id }),
      call(meg, 'POST', `/v1/accounts/${t.id}/merge`, { sourceId: s2.id }),
    ]);
    for (const a of answers) expect(a.status, a.body).toBe(200);
    const after = (await fetchRecord(root, 'accounts', t.id))!;
    expect(after.tags.sort()).toEqual(['one', 't', 'two']);
    expect(after.version).toBe(3);
    expect(await childrenOf(t.id)).toHaveLength(20);
  });

  it('A into B and B into A at the same moment: exactly one happens', async () => {
    const a = await account(alice);
    const b = await account(alice);
    await created(api(alice).post('/v1/tasks', { title: 'on a', dueAt: '2027-01-01T00:00:00Z', accountId: a.id }));
    await created(api(alice).post('/v1/tasks', { title: 'on b', dueAt: '2027-01-01T00:00:00Z', accountId: b.id }));
    const answers = await Promise.all([
      call(mia, 'POST', `/v1/accounts/${a.id}/merge`, { sourceId: b.id }),
      call(meg, 'POST', `/v1/accounts/${b.id}/merge`, { sourceId: a.id }),
    ]);
    const statuses = answers.map((x) => x.status).sort();
    expect(statuses[0], answers.map((x) => x.body).join('\n')).toBe(200);
    // The loser: the pair is locked the other way (409), or its target is already gone (404).
    expect([404, 409]).toContain(statuses[1]);
    const survivors = [await fetchRecord(root, 'accounts', a.id), await fetchRecord(root, 'accounts', b.id)].filter(Boolean);
    expect(survivors).toHaveLength(1);
    expect(await childrenOf(survivors[0]!.id)).toHaveLength(2);
  });
});
