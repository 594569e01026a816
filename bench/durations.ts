/**
 * Handler durations for the cost model (issue 11 point 10, `npm run cost`): the wall time of
 * common operations through the local router, unmetered (the meter's side reads would add
 * their own time), after a warm-up, as `duration.<operation>.ms` (median) and `.p90_ms`.
 * Local DynamoDB Local round trips stand in for DynamoDB's in-region latency; token checks and
 * the router's event building are included, so the figures lean high, as a cost model should.
 *
 * Part of `npm run bench` (bench/scenarios.ts); alone: `npx tsx bench/durations.ts`.
 */
import type { Call } from './scenarios.ts';
import type { PartContext } from './standalone.ts';
import { isEntry, runStandalone } from './standalone.ts';

const REPEAT = 40;
const WARM_UP = 5;

interface Step {
  name: string;
  run: (i: number) => Promise<{ status: number; json?: unknown; body: string }>;
  expect: number;
}

export async function durationScenarios({ call, meter, figures, notes }: Pick<PartContext, 'call' | 'meter' | 'figures' | 'notes'>): Promise<void> {
  await meter.unmetered(() => measureAll(call, figures, notes));
}

async function measureAll(call: Call, figures: Record<string, number>, notes: string[]): Promise<void> {
  const rep = { tenant: 'bench-durations', user: 'rita', role: 'rep' as const, team: 'east' };
  const first = await call(rep, 'POST', '/v1/accounts', { name: 'Durations 客户 0', tier: 'B' });
  if (first.status !== 201) throw new Error(`seed account: HTTP ${first.status} ${first.body.slice(0, 200)}`);
  const accountId = (first.json as { id: string }).id;
  let n = 0;
  const steps: Step[] = [
    { name: 'accounts.create', expect: 201, run: () => call(rep, 'POST', '/v1/accounts', { name: `Durations 客户 ${++n}`, tier: 'B', tags: ['bench'] }) },
    { name: 'accounts.get', expect: 200, run: () => call(rep, 'GET', `/v1/accounts/${accountId}`) },
    { name: 'accounts.list', expect: 200, run: () => call(rep, 'GET', '/v1/accounts?limit=25') },
    { name: 'accounts.patch', expect: 200, run: (i) => call(rep, 'PATCH', `/v1/accounts/${accountId}`, { description: `note ${i}` }) },
    { name: 'accounts.360', expect: 200, run: () => call(rep, 'GET', `/v1/accounts/${accountId}/360`) },
    { name: 'activities.create', expect: 201, run: (i) => call(rep, 'POST', '/v1/activities', { type: 'call', subject: `电话 ${i}`, occurredAt: '2026-11-02T08:00:00Z', accountId }) },
    { name: 'tasks.create', expect: 201, run: (i) => call(rep, 'POST', '/v1/tasks', { title: `报价 ${i}`, dueAt: '2027-01-02T09:00:00Z', accountId }) },
    { name: 'leads.create', expect: 201, run: (i) => call(rep, 'POST', '/v1/leads', { name: `线索 ${i}`, email: `lead-${i}-${n}@durations.example.cn`, source: 'website' }) },
    { name: 'dashboard.read', expect: 200, run: () => call(rep, 'GET', '/v1/dashboard') },
  ];
  for (const step of steps) {
    const times: number[] = [];
    for (let i = 0; i < WARM_UP + REPEAT; i++) {
      const t0 = performance.now();
      const res = await step.run(i);
      const ms = performance.now() - t0;
      if (res.status !== step.expect) throw new Error(`${step.name}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
      if (i >= WARM_UP) times.push(ms);
    }
    times.sort((a, b) => a - b);
    figures[`duration.${step.name}.ms`] = round(times[Math.floor(times.length / 2)]!);
    figures[`duration.${step.name}.p90_ms`] = round(times[Math.floor(times.length * 0.9)]!);
  }
  notes.push(`duration.*: ${REPEAT} calls each after ${WARM_UP} warm-up calls, through the local router, unmetered; medians feed \`npm run cost\`.`);
}

const round = (ms: number) => Math.round(ms * 10) / 10;

if (isEntry(import.meta.url)) runStandalone('durations', durationScenarios);
