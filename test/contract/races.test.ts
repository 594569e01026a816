/**
 * Races (API.md §3 PATCH / If-Match, §5 lastFollowUpAt): real concurrent HTTP requests
 * against one record. Without If-Match every change lands (last writer wins field by
 * field, never a lost update); with If-Match exactly one wins; follow-ups only ever move
 * `lastFollowUpAt` forward. Never a 500.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { call, type ApiResponse } from '#test/support/api.ts';
import { api, expectProblem, fetchRecord, listAll, uniq, type Caller } from '#test/support/fixtures.ts';

const admin: Caller = { tenant: 'races', user: 'root', role: 'admin' };
const alice: Caller = { tenant: 'races', user: 'alice', role: 'rep', team: 'east' };

/** Fires all requests at once and reports every 5xx together, with its body. */
async function concurrently(requests: (() => Promise<ApiResponse>)[]): Promise<ApiResponse[]> {
  const answers = await Promise.all(requests.map((r) => r()));
  const errors = answers.map((a, i) => ({ i, status: a.status, body: a.body })).filter((a) => a.status >= 500);
  expect(errors, `${errors.length} of ${answers.length} concurrent requests answered 5xx`).toEqual([]);
  return answers;
}

function shuffle<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Eight digits of a phone number that only this salt uses (phones are unique per tenant, like names). */
const digits = (salt: string, k: number) =>
  String(createHash('sha256').update(`${salt}#${k}`).digest().readUInt32BE(0) % 1e8).padStart(8, '0');

/**
 * Ten independently patchable account fields; two different values each (neither equal to
 * the initial one). An account has only these ten, so the twenty PATCHes below are two
 * per field: the order the server applied them in (each answer's version) says which value
 * each field must end with.
 */
function fieldsFor(salt: string) {
  const initial = {
    name: `race initial ${salt}`,
    domain: `initial-${salt}.com`,
    email: `initial-${salt}@example.com`,
    phone: `+86 10 ${digits(salt, 0)}`,
    industry: 'initial industry',
    tier: 'B',
    lifecycleStage: 'prospect',
    tags: ['initial'],
    address: 'initial address',
    description: 'initial description',
  };
  const values: Record<keyof typeof initial, [unknown, unknown]> = {
    name: [`race name 0 ${salt}`, `race name 1 ${salt}`],
    domain: [`zero-${salt}.com`, `one-${salt}.cn`],
    email: [`zero-${salt}@example.com`, `one-${salt}@example.com`],
    phone: [`+86 138 ${digits(salt, 1)}`, `+86 138 ${digits(salt, 2)}`],
    industry: ['industry 0', 'industry 1'],
    tier: ['A', 'C'],
    lifecycleStage: ['customer', 'churned'],
    tags: [['zero'], ['one']],
    address: ['address 0', 'address 1'],
    description: ['description 0', 'description 1'],
  };
  return { initial, values };
}
type Field = keyof ReturnType<typeof fieldsFor>['initial'];
/** Unique per test, so no two accounts ever share a name, email, phone or domain. */
const salt = () => uniq('s').replace(/\W/g, '').toLowerCase();

describe('races on one account', () => {
  it('20 concurrent PATCHes without If-Match all land: versions 2..21, no field lost', async () => {
    const { initial, values } = fieldsFor(salt());
    const created = await api(alice).post('/v1/accounts', initial);
    expect(created.status, created.body).toBe(201);
    const id = created.json.id as string;
    const start = { ...created.json };

    const patches = shuffle(
      (Object.keys(values) as Field[]).flatMap((field) => [0, 1].map((k) => ({ field, value: values[field][k as 0 | 1] }))),
    );
    expect(patches).toHaveLength(20);
    const answers = await concurrently(patches.map((p) => () => call(alice, 'PATCH', `/v1/accounts/${id}`, { [p.field]: p.value })));

    for (const [i, a] of answers.entries()) expect(a.status, `PATCH ${patches[i]!.field}: ${a.body}`).toBe(200);
    const versions = answers.map((a) => JSON.parse(a.body).version as number);
    expect([...versions].sort((x, y) => x - y), 'each PATCH applied on top of a distinct version').toEqual(
      Array.from({ length: 20 }, (_, i) => i + 2),
    );

    // Replaying the PATCHes in the order the server applied them must give every answer exactly.
    const order = patches.map((p, i) => ({ ...p, answer: JSON.parse(answers[i]!.body) })).sort((x, y) => x.answer.version - y.answer.version);
    const expected: Record<string, unknown> = { ...start };
    for (const step of order) {
      expected[step.field] = step.value;
      const { updatedAt: _u, version, ...rest } = step.answer;
      const { updatedAt: _e, version: _ev, ...want } = expected;
      expect(version).toBe(order.indexOf(step) + 2);
      expect(rest, `the answer at version ${version} (PATCH ${step.field}) lost an earlier change`).toEqual(want);
    }

    const final = await fetchRecord(alice, 'accounts', id);
    expect(final!.version).toBe(21);
    expect(final).toEqual(order[order.length - 1]!.answer);
    for (const field of Object.keys(values) as Field[]) {
      const last = order.filter((s) => s.field === field).at(-1)!;
      expect(final![field], `${field} holds the value of its last writer`).toEqual(last.value);
    }
    const got = await api(alice).get(`/v1/accounts/${id}`);
    expect(got.headers.etag).toBe('"21"');
  });

  it('10 concurrent PATCHes with the same If-Match: exactly one 200, nine 412, only the winner’s change stored', async () => {
    const { initial, values } = fieldsFor(salt());
    const id = (await api(alice).post('/v1/accounts', initial)).json.id as string;
    const fields = (Object.keys(values) as Field[]).slice(0, 10);
    const answers = await concurrently(
      fields.map((f) => () => call(alice, 'PATCH', `/v1/accounts/${id}`, { [f]: values[f][0] }, { headers: { 'if-match': '"1"' } })),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200), `statuses: ${statuses.join(',')}`).toHaveLength(1);
    expect(statuses.filter((s) => s === 412), `statuses: ${statuses.join(',')}`).toHaveLength(9);
    for (const a of answers.filter((x) => x.status === 412)) {
      expectProblem({ ...a, req: 'PATCH with If-Match "1"' }, 412, 'version_mismatch');
    }
    const winner = fields[statuses.indexOf(200)]!;
    const final = await fetchRecord(alice, 'accounts', id);
    expect(final!.version).toBe(2);
    expect(final![winner]).toEqual(values[winner][0]);
    for (const f of fields.filter((x) => x !== winner)) {
      expect(final![f], `${f}: a 412 must change nothing`).toEqual(initial[f]);
    }
  });

  it('10 concurrent follow-ups with different occurredAt: lastFollowUpAt ends at the latest, the version stays coherent', async () => {
    const id = (await api(alice).post('/v1/accounts', { name: uniq('follow-up race') })).json.id as string;
    const times = shuffle(Array.from({ length: 10 }, (_, i) => new Date(Date.UTC(2026, 5, 1 + i, 8, i)).toISOString()));
    const answers = await concurrently(
      times.map((t) => () => call(alice, 'POST', '/v1/activities', { type: 'call', subject: `call at ${t}`, occurredAt: t, accountId: id })),
    );
    for (const a of answers) expect(a.status, a.body).toBe(201);

    const account = await api(alice).get(`/v1/accounts/${id}`);
    const latest = [...times].sort().at(-1)!;
    expect(account.json.lastFollowUpAt).toBe(latest);
    // Each follow-up that moved the clock made one new version; at least one did, at most all ten.
    const v = account.json.version as number;
    expect(v).toBeGreaterThanOrEqual(2);
    expect(v).toBeLessThanOrEqual(11);
    expect(account.headers.etag).toBe(`"${v}"`);
    // The version is the real one: If-Match with it succeeds, and moves it by exactly one.
    const patched = await api(alice).patch(`/v1/accounts/${id}`, { industry: 'after the race' }, { headers: { 'if-match': `"${v}"` } });
    expect(patched.status, patched.body).toBe(200);
    expect(patched.json.version).toBe(v + 1);
    expect(patched.json.lastFollowUpAt).toBe(latest);

    const logged = await listAll(alice, `/v1/activities?accountId=${id}`);
    expect(logged.map((x) => x.id).sort()).toEqual(answers.map((a) => JSON.parse(a.body).id).sort());
    expect(logged.map((x) => x.occurredAt), 'newest first').toEqual([...times].sort().reverse());
  });

  it('PATCHes and follow-ups racing on one account: every change lands and lastFollowUpAt only moves forward', async () => {
    const { initial, values } = fieldsFor(salt());
    const id = (await api(alice).post('/v1/accounts', initial)).json.id as string;
    const fields: Field[] = ['industry', 'address', 'description', 'tier', 'lifecycleStage'];
    const times = Array.from({ length: 5 }, (_, i) => new Date(Date.UTC(2026, 6, 1 + i)).toISOString());
    const answers = await concurrently(
      shuffle([
        ...fields.map((f) => () => call(alice, 'PATCH', `/v1/accounts/${id}`, { [f]: values[f][1] })),
        ...times.map((t) => () => call(alice, 'POST', '/v1/activities', { type: 'visit', subject: 'visit', occurredAt: t, accountId: id })),
      ]),
    );
    for (const a of answers) expect([200, 201], a.body).toContain(a.status);
    const final = await fetchRecord(admin, 'accounts', id);
    for (const f of fields) expect(final![f], `${f} lost`).toEqual(values[f][1]);
    expect(final!.lastFollowUpAt).toBe(times.at(-1));
    expect(final!.version).toBeGreaterThanOrEqual(1 + fields.length + 1);
    expect(final!.version).toBeLessThanOrEqual(1 + fields.length + times.length);
  });
});
