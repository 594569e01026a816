/**
 * Customer 360 reads what it shows, not the whole collection: `queryLeaping` (the table layer)
 * goes on at a higher sort key when a page ends inside a section the reader has enough of, and
 * the 360 caps each section (API.md §5) in the order its own list route sorts.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { db, tableName } from '#domain/table/client.ts';
import { queryLeaping } from '#domain/table/query.ts';
import { MAX_PER_SECTION } from '#domain/accounts/customer-360.ts';
import { as } from '#test/support/api.ts';
import { requestsDuring } from '#test/support/request-spy.ts';
import { ulid } from 'ulid';
import { batchPut } from '../../bench/seed.ts';
import { contactSpec, type Contact } from '#domain/accounts/contact.ts';
import { toItem } from '#domain/records.ts';

const alice = { tenant: 'acme', user: 'alice', role: 'rep', team: 'east' } as const;

describe('queryLeaping', () => {
  it('leaps past the rest of a section the reader has enough of, and stops at the upper bound', async () => {
    const parentPk = 'T#leap#ACCOUNT#A1#CHILDREN';
    const put = (parentSk: string) =>
      db.send(new PutCommand({ TableName: tableName(), Item: { PK: `T#leap#X#${parentSk}`, SK: 'X', parentPk, parentSk } }));
    const firsts = Array.from({ length: 30 }, (_, i) => `1#${String(i).padStart(2, '0')}`);
    const seconds = ['2#a', '2#b', '2#c'];
    await Promise.all([...firsts, ...seconds, '4', '5#beyond'].map(put));

    const { result, requests } = await requestsDuring(() =>
      queryLeaping({ index: 'byParent', pk: parentPk, sk: { lessThan: '4' }, limit: 10 }, (read) => {
        const last = read.at(-1)!.parentSk as string;
        return last.startsWith('1#') && read.length >= 10 ? '2' : undefined;
      }),
    );
    // Ten of the first section (one page), then the second section from its start; '4' is the bound, not in range.
    expect(result.map((i) => i.parentSk)).toEqual([...firsts.slice(0, 10), ...seconds]);
    expect(requests).toEqual(['Query', 'Query']);

    // Leaping to or past the upper bound ends the read.
    const stopped = await queryLeaping({ index: 'byParent', pk: parentPk, sk: { lessThan: '4' }, limit: 10 }, () => '9');
    expect(stopped.map((i) => i.parentSk)).toEqual(firsts.slice(0, 10));
  });
});

describe('Customer 360 with more children than a section shows', () => {
  it('shows the first contacts by name up to the cap, and every later section still', async () => {
    const account = (await as(alice).post('/v1/accounts', { name: 'Many People Ltd' })).json;
    // Seeded as stored records (a read test: 120 creates through the API would cost seconds for nothing).
    const names = Array.from({ length: MAX_PER_SECTION + 20 }, (_, i) => `Person ${String(i).padStart(3, '0')}`);
    const at = new Date().toISOString();
    const contacts: Contact[] = names.map((name) => ({
      id: ulid(), createdAt: at, updatedAt: at, version: 1, ownerId: 'alice', ownerTeamId: 'east',
      name, accountId: account.id, tags: [], createdBy: 'alice',
    }));
    await batchPut(db, tableName(), contacts.map((c) => toItem(contactSpec, 'acme', c)));
    const note = await as(alice).post('/v1/activities', { type: 'note', subject: 'after the contacts', accountId: account.id });
    expect(note.status).toBe(201);

    const view = await as(alice).get(`/v1/accounts/${account.id}/360`);
    expect(view.status).toBe(200);
    expect(view.json.account.id).toBe(account.id);
    expect(view.json.contacts.map((c: { name: string }) => c.name)).toEqual(names.slice(0, MAX_PER_SECTION));
    expect(view.json.activities.map((a: { id: string }) => a.id)).toEqual([note.json.id]);
  });
});
