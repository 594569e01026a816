import { describe, expect, it } from 'vitest';
import { as } from '#test/support/api.ts';

const alice = { tenant: 'acme', user: 'alice', role: 'rep', team: 'east' } as const;
const bob = { tenant: 'acme', user: 'bob', role: 'rep', team: 'east' } as const;
const admin = { tenant: 'acme', user: 'root', role: 'admin' } as const;

describe('contacts, activities, tasks and Customer 360', () => {
  it('moves lastFollowUpAt forward only, through a contact too, and shows it all in one 360', async () => {
    await as(bob).get('/v1/tasks'); // bob is in the directory from his first request
    const account = (await as(alice).post('/v1/accounts', { name: 'Acme 北京' })).json;
    const contact = await as(alice).post('/v1/contacts', { name: '王小明', accountId: account.id, email: 'Wang@Acme.CN' });
    expect(contact.status).toBe(201);
    expect(contact.json.email).toBe('wang@acme.cn');

    const later = await as(alice).post('/v1/activities', { type: 'call', subject: '首次电话', contactId: contact.json.id, occurredAt: '2026-11-20T10:00:00+08:00' });
    expect(later.status).toBe(201);
    expect(later.json.accountId).toBe(account.id);
    const earlier = await as(alice).post('/v1/activities', { type: 'note', subject: 'older', accountId: account.id, occurredAt: '2026-11-01T00:00:00Z' });
    expect(earlier.status).toBe(201);

    const after = (await as(alice).get(`/v1/accounts/${account.id}`)).json;
    expect(after.lastFollowUpAt).toBe('2026-11-20T02:00:00.000Z');

    const task = await as(alice).post('/v1/tasks', { title: 'Send quote', dueAt: '2026-12-01T09:00:00Z', accountId: account.id, assigneeId: 'bob' });
    expect(task.status).toBe(201);
    expect(task.json).toMatchObject({ assigneeId: 'bob', status: 'open' });
    const doneTask = await as(alice).post('/v1/tasks', { title: 'Done already', dueAt: '2026-11-01T09:00:00Z', accountId: account.id, status: 'done' });
    expect(doneTask.status).toBe(201);

    const view = await as(alice).get(`/v1/accounts/${account.id}/360`);
    expect(view.status).toBe(200);
    expect(view.json.account.id).toBe(account.id);
    expect(view.json.contacts.map((c: { id: string }) => c.id)).toEqual([contact.json.id]);
    expect(view.json.activities.map((a: { id: string }) => a.id)).toEqual([later.json.id, earlier.json.id]);
    expect(view.json.tasks.map((t: { id: string }) => t.id)).toEqual([task.json.id]);
    expect(view.json).toMatchObject({ opportunities: [], quotes: [], orders: [], tickets: [] });

    const bobsTasks = await as(bob).get('/v1/tasks?assigneeId=me&status=open&dueBefore=2026-12-02T00:00:00Z');
    expect(bobsTasks.json.items.map((t: { id: string }) => t.id)).toEqual([task.json.id]);

    const contactActs = await as(alice).get(`/v1/activities?contactId=${contact.json.id}`);
    expect(contactActs.json.items.map((a: { id: string }) => a.id)).toEqual([later.json.id]);

    const users = await as(admin).get('/v1/users');
    expect(users.json.items.map((u: { userId: string }) => u.userId).sort()).toEqual(['alice', 'bob', 'root']);

    const unknownAssignee = await as(alice).post('/v1/tasks', { title: 'x', dueAt: '2026-12-01T09:00:00Z', assigneeId: 'ghost' });
    expect(unknownAssignee.status).toBe(400);
    expect(unknownAssignee.json.code).toBe('validation_failed');
  });
});
