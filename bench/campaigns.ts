/**
 * Campaign figures (issue 8): one campaign of 10,000 recipients through the campaign-dispatch
 * job, locally, at `sendRatePerSecond` 1,000 and the local mailbox as the provider.
 *
 * - `campaign.10k.provider_calls`: provider requests (SES `SendBulkEmail` in the cloud) for one campaign;
 * - `campaign.10k.seconds`: wall time of the run that sends it (pacing included);
 * - `campaign.10k.double_sends`: addresses handed to the provider more than once, over a run
 *   killed after 3,000 sends and run again, and over two runs started at once.
 *
 * The audience is a fixed list installed with `useAudience` (domain/marketing/audience.ts):
 * these figures are the dispatch's; walking a segment is the audience context's cost.
 *
 * Part of `npm run bench` (bench/scenarios.ts), unmetered; alone: `npx tsx bench/campaigns.ts`.
 */
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

const N = 10_000;

export interface CampaignBenchInput {
  call: Call;
  figures: Record<string, number>;
  notes: string[];
  tenant: string;
}

export async function campaignScenarios({ call, figures, notes, tenant }: CampaignBenchInput): Promise<void> {
  const { useAudience } = await import('#domain/marketing/audience.ts');
  const { mailboxMailer } = await import('#domain/mail/mailbox.ts');
  const { useMailer } = await import('#domain/mail/mailer.ts');
  const { runCampaignDispatch, DispatchKilled, IN_FLIGHT_LEASE_MS } = await import('#domain/marketing/dispatch.ts');

  const t = `${tenant}-camp`;
  const root = { tenant: t, user: 'root', role: 'admin' as const };
  const members = (segment: string) =>
    Array.from({ length: N }, (_v, i) => ({ id: `${segment}${i}`, entity: 'contact' as const, name: `客户 ${i}`, email: `${segment}.${i}@bench.example.cn`, phone: null, ownerId: 'alice', company: `公司 ${i}`, custom: {} }));
  const segments: Record<string, ReturnType<typeof members>> = { one: members('one'), kill: members('kill'), race: members('race') };
  useAudience({
    normalizeEmail: (e) => e.trim().toLowerCase(),
    suppressedAmong: async () => new Set(),
    suppress: async () => ({ created: true }),
    suppressWithin: async () => ({ created: true }),
    segmentEntity: async () => 'contacts',
    walkSegmentMembers: async function* (_t, segmentId, opts) {
      const all = segments[segmentId] ?? [];
      for (let i = 0; i < all.length; i += opts?.pageSize ?? 100) yield all.slice(i, i + (opts?.pageSize ?? 100));
    },
    customFieldKeys: async () => [],
  });

  // The provider: the local mailbox, counting requests and what each address was handed.
  const box = mailboxMailer();
  let calls = 0;
  const handed = new Map<string, number>();
  useMailer({
    send: box.send,
    sendBulk: async (m) => {
      calls++;
      for (const e of m.entries) handed.set(e.to, (handed.get(e.to) ?? 0) + 1);
      return box.sendBulk(m);
    },
  });

  const expectOk = async (what: string, p: Promise<{ status: number; body: string }>) => {
    const res = await p;
    if (res.status >= 300) throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    return res as unknown as { json: { id: string } };
  };
  await expectOk('settings', call(root, 'PUT', '/v1/marketing/settings', { sendRatePerSecond: 1000, fromAddress: 'news@bench.example.cn' }));
  const start = async (segmentId: string) => {
    const c = await expectOk('create', call(root, 'POST', '/v1/campaigns', { name: segmentId, segmentId, subject: '{{name}}，双十一', html: '<p>{{name}} / {{company}}</p><a href="https://shop.example.cn/sale">Sale</a>' }));
    await expectOk('send', call(root, 'POST', `/v1/campaigns/${c.json.id}/send`));
    return c.json.id;
  };
  const doubles = () => [...handed.values()].filter((n) => n > 1).length;

  // 1. One campaign, one run: provider requests and wall time.
  await start('one');
  const t0 = performance.now();
  const report = await runCampaignDispatch({ now: new Date() });
  const seconds = (performance.now() - t0) / 1000;
  figures['campaign.10k.provider_calls'] = calls;
  figures['campaign.10k.seconds'] = Math.round(seconds * 10) / 10;
  notes.push(`campaign.10k: ${report.sent} sent in ${calls} provider requests, ${seconds.toFixed(1)} s at 1,000/s (freeze, claims, sends, finishes).`);

  // 2. Killed after 3,000 sends, run again (and once more after the in-flight lease), then two runs at once.
  handed.clear();
  await start('kill');
  const now = new Date();
  try {
    await runCampaignDispatch({ now, killAfterSends: 3000 });
  } catch (err) {
    if (!(err instanceof DispatchKilled)) throw err;
  }
  await runCampaignDispatch({ now });
  await runCampaignDispatch({ now: new Date(now.getTime() + IN_FLIGHT_LEASE_MS + 60_000) });
  const killedDoubles = doubles();
  const killedHanded = handed.size;

  handed.clear();
  await start('race');
  await Promise.all([runCampaignDispatch({ now: new Date() }), runCampaignDispatch({ now: new Date() })]);
  await runCampaignDispatch({ now: new Date() });
  const raceDoubles = doubles();
  figures['campaign.10k.double_sends'] = killedDoubles + raceDoubles;
  notes.push(
    `campaign.10k.double_sends: killed after 3,000 and rerun: ${killedHanded} addresses handed over, ${killedDoubles} twice; ` +
      `two runs at once: ${handed.size} handed over, ${raceDoubles} twice.`,
  );
}

if (isEntry(import.meta.url)) {
  runStandalone('camp', ({ call, meter, figures, notes }) => meter.unmetered(() => campaignScenarios({ call, figures, notes, tenant: 'bench' })));
}
