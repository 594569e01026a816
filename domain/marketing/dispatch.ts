/**
 * The `campaign-dispatch` job (every minute; `POST /_local/jobs/campaign-dispatch`).
 *
 * WHAT IT READS. Campaigns with work are in the sparse `byDue` partition `DUE#CAMP`, sorted
 * by when they are due (a `/send` is due at once): one Query, then per campaign its queued
 * recipients (`byParent` `…#RCPT#queued`). Cost grows with the work due, not with the data.
 *
 * PER CAMPAIGN:
 *  1. a scheduled campaign whose `sendAt` has come becomes `sending`;
 *  2. FREEZE (once): one run holds a freeze lease on the campaign, walks the segment,
 *     writes one recipient per normalized email (suppressed ones `suppressed`), sets the
 *     counters, and marks the campaign `frozen`. Nothing is claimed before that mark, so a
 *     freeze that dies is simply redone after its lease (the recipient ids derive from the
 *     email, so a redo overwrites, never duplicates);
 *  3. SEND, in batches of ≤ 50, paced at the tenant's `sendRatePerSecond`:
 *       claim  — one transaction moves each recipient `queued → sending` (condition: still
 *                `queued`) with the counters; recipients another run claimed first drop out;
 *       send   — one provider request (SES `SendBulkEmail`) for the claimed recipients;
 *       finish — one transaction moves each `sending → sent | failed` (or back to `queued`
 *                for a retryable failure, at most MAX_ATTEMPTS tries) with the counters.
 *     The claim is written before the provider call, so no recipient is ever claimed twice:
 *     a killed run, a retried run and two overlapping runs cannot send anything twice.
 *  4. A recipient whose send was in flight when a run died stays `sending` (listed as
 *     `queued`): we cannot know whether the provider took it, so it is never sent again.
 *     After IN_FLIGHT_LEASE_MS a later run marks it `failed` with `error: "outcome_unknown"`.
 *  5. When nothing is queued or in flight, the campaign is `sent` (or stays `canceled`: a
 *     canceled campaign's queued recipients become `canceled`) and leaves the sweep.
 *
 * WHAT IT SENDS. A `Mailing`: a campaign, or an NPS survey (domain/service/surveys-nps.ts), each
 * with its own keys, template and per-recipient entry; both are due in `DUE#CAMP`, told apart by
 * the record's `entityType`. Freezing, claims, batching, pacing and the time budget are shared.
 *
 * TIME BUDGET. In Lambda it stops before its time runs out (`timeLeftMs`); the next run
 * goes on where the queue stands. Locally it runs to completion.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { TransactWriteCommand, UpdateCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { db, tableName } from '#domain/table/client.ts';
import { batchWrite } from '#domain/table/batch.ts';
import { getItem, queryAll, queryInput } from '#domain/table/query.ts';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { sendBulk, MAX_BULK_ENTRIES, type BulkEntry, type MailAddress } from '#domain/mail/mailer.ts';
import { audience, type AudienceMember } from '#domain/marketing/audience.ts';
import { campaignFromItem } from '#domain/marketing/campaign.ts';
import {
  CAMPAIGN_DUE_PARTITION,
  campaignDueSk,
  campaignKey,
  campaignStatsKey,
  recipientIdOf,
  recipientKey,
  recipientStatusPartition,
} from '#domain/marketing/keys.ts';
import { bulkValues, compileBulkTemplate, type BulkTemplate } from '#domain/marketing/merge-tags.ts';
import { loadSettings, type StoredSettings } from '#domain/marketing/settings.ts';
import { trackedHtml, trackingValues } from '#domain/marketing/tracking-links.ts';
import { surveyMailing } from '#domain/service/surveys-nps.ts';

type Item = Record<string, unknown>;
type Key = { PK: string; SK: string };

export interface MailingKeys {
  record: Key;
  stats: Key;
  recipient(recipientId: string): Key;
  /** The `byParent` partition of the recipients in one status (`queued` is the queue). */
  statusPartition(status: string): string;
}

/** What the job sends (see the header). */
export interface Mailing {
  id: string;
  status: string;
  segmentId: string;
  keys: MailingKeys;
  /** `entityType` of its recipient items. */
  recipientType: string;
  /** The bulk template and the sender, once per run. */
  compose(settings: StoredSettings): { template: BulkTemplate; from: MailAddress; replyTo?: string };
  /** One claimed recipient's entry of a bulk send. */
  entry(tenantId: string, recipient: Item): BulkEntry;
}

function campaignMailing(tenantId: string, item: Item): Mailing {
  const c = campaignFromItem(item);
  const compiled = compileBulkTemplate({ subject: c.subject, html: c.html, text: c.text });
  return {
    id: c.id,
    status: c.status,
    segmentId: c.segmentId,
    recipientType: 'RCPT',
    keys: {
      record: campaignKey(tenantId, c.id),
      stats: campaignStatsKey(tenantId, c.id),
      recipient: (rid) => recipientKey(tenantId, c.id, rid),
      statusPartition: (status) => recipientStatusPartition(tenantId, c.id, status),
    },
    compose(settings) {
      return {
        template: { ...compiled, html: trackedHtml(compiled.html) },
        from: { address: settings.fromAddress, ...(c.fromName ? { name: c.fromName } : {}) },
        ...(c.replyTo ? { replyTo: c.replyTo } : {}),
      };
    },
    entry(tenant, r) {
      const rid = String(r.recipientId);
      const links = trackingValues(tenant, c.id, rid, c.html);
      return {
        to: String(r.email),
        data: {
          ...bulkValues(compiled, {
            name: r.name as string | null,
            email: String(r.email),
            company: r.company as string | null,
            owner: r.ownerId as string | null,
            unsubscribeUrl: links.unsubscribeUrl,
            custom: (r.custom as Record<string, unknown>) ?? {},
          }),
          ...links.slots,
        },
        headers: {
          'List-Unsubscribe': `<${links.unsubscribeUrl}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        },
        source: { kind: 'campaign', campaignId: c.id, recipientId: rid },
      };
    },
  };
}

/** The mailing a due record is, by its `entityType`. */
function mailingOf(tenantId: string, item: Item): Mailing {
  return item.entityType === 'SURVEY' ? surveyMailing(tenantId, item) : campaignMailing(tenantId, item);
}
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** A freeze not finished within this is taken over by another run. */
const FREEZE_LEASE_MS = 10 * 60_000;
/** A claimed recipient older than this belongs to a run that died (the job's timeout is well below). */
export const IN_FLIGHT_LEASE_MS = 15 * 60_000;
const MAX_ATTEMPTS = 3;
const RETRY_BACKOFF_MS = 1_000;
/** Stop this long before the invocation's time runs out. */
const SAFETY_MS = 20_000;

export interface DispatchOptions {
  now?: Date;
  /** Milliseconds left in this invocation (Lambda); none: run to completion. */
  timeLeftMs?: () => number;
  /** Fault injection for tests: the run dies after this many recipients were handed to the provider, before recording them. */
  killAfterSends?: number;
  /** Test hook: runs between a batch's claim and its provider call. */
  afterClaim?: (recipientIds: string[]) => Promise<void>;
  /** For tests: replaces the real sleep of the pacing (tests never wait on the clock). */
  sleep?: (ms: number) => Promise<void>;
}

export type DispatchReport = {
  job: 'campaign-dispatch';
  now: string;
  /** Recipients acted on: frozen + sent + failed + canceled + resolved. */
  processed: number;
  sent: number;
  failed: number;
  campaigns: number;
  providerCalls: number;
  complete: boolean;
};

export class DispatchKilled extends Error {}

export async function runCampaignDispatch(opts: DispatchOptions = {}): Promise<DispatchReport> {
  const now = opts.now ?? new Date();
  const report: DispatchReport = { job: 'campaign-dispatch', now: now.toISOString(), processed: 0, sent: 0, failed: 0, campaigns: 0, providerCalls: 0, complete: true };
  const run = new Run(now, opts, report);
  const due = await queryAll({ index: 'byDue', pk: CAMPAIGN_DUE_PARTITION, sk: { lessThan: `${now.toISOString()}#\uffff` } }, () => false);
  for (const entry of due) {
    if (run.outOfTime()) {
      report.complete = false;
      break;
    }
    const item = await getItem({ PK: String(entry.PK), SK: String(entry.SK) });
    if (!item || item.dueSk !== entry.dueSk) continue;
    report.campaigns++;
    await run.mailing(String(item.tenantId), mailingOf(String(item.tenantId), item), item);
  }
  return report;
}

class Run {
  private readonly started = Date.now();
  /** Per tenant: emails handed to the provider in this run, for pacing. */
  private readonly paced = new Map<string, { since: number; count: number }>();
  private sends = 0;

  constructor(
    private readonly now: Date,
    private readonly opts: DispatchOptions,
    private readonly report: DispatchReport,
  ) {}

  outOfTime(): boolean {
    return this.opts.timeLeftMs !== undefined && this.opts.timeLeftMs() < SAFETY_MS;
  }

  async mailing(tenantId: string, mailing: Mailing, item: Item): Promise<void> {
    let m = mailing;
    if (m.status === 'scheduled') {
      if (!(await this.start(m))) return;
      m = { ...m, status: 'sending' };
    }
    if (m.status === 'sending' && item.frozen !== true) {
      if (!(await this.freeze(tenantId, m))) return;
    }
    if (m.status === 'sending') await this.send(tenantId, m);
    if (m.status === 'canceled') await this.cancelQueued(m);
    await this.resolveAbandoned(m);
    if (!this.outOfTime()) await this.finishIfDone(m);
  }

  private async start(m: Mailing): Promise<boolean> {
    try {
      await db.send(
        new UpdateCommand({
          TableName: tableName(),
          Key: m.keys.record,
          UpdateExpression: 'SET #s = :sending, startedAt = :now, updatedAt = :now ADD version :one',
          ConditionExpression: '#s = :scheduled',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':sending': 'sending', ':scheduled': 'scheduled', ':now': this.now.toISOString(), ':one': 1 },
        }),
      );
      return true;
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }

  /** Freezes the audience once; false when another run holds the freeze. */
  private async freeze(tenantId: string, c: Mailing): Promise<boolean> {
    try {
      await db.send(
        new UpdateCommand({
          TableName: tableName(),
          Key: c.keys.record,
          UpdateExpression: 'SET freezeLeaseUntil = :until',
          ConditionExpression: 'attribute_not_exists(frozen) AND (attribute_not_exists(freezeLeaseUntil) OR freezeLeaseUntil < :now)',
          ExpressionAttributeValues: { ':until': new Date(this.now.getTime() + FREEZE_LEASE_MS).toISOString(), ':now': this.now.toISOString() },
        }),
      );
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
    const aud = audience();
    const seen = new Set<string>();
    let recipients = 0;
    let suppressed = 0;
    for await (const page of aud.walkSegmentMembers(tenantId, c.segmentId, { pageSize: 100 })) {
      const fresh: { member: AudienceMember; email: string }[] = [];
      for (const member of page) {
        if (!member.email) continue;
        const email = aud.normalizeEmail(member.email);
        if (!email || seen.has(email)) continue;
        seen.add(email);
        fresh.push({ member, email });
      }
      if (!fresh.length) continue;
      const blocked = await aud.suppressedAmong(tenantId, fresh.map((f) => f.email));
      const items = fresh.map(({ member, email }) => {
        const status = blocked.has(email) ? 'suppressed' : 'queued';
        if (status === 'suppressed') suppressed++;
        recipients++;
        const id = recipientIdOf(email);
        return {
          ...c.keys.recipient(id),
          tenantId,
          entityType: c.recipientType,
          parentPk: c.keys.statusPartition(status),
          parentSk: id,
          recipientId: id,
          email,
          status,
          ...(member.entity === 'contact' ? { contactId: member.id } : { leadId: member.id }),
          name: member.name,
          company: member.company,
          ownerId: member.ownerId,
          custom: member.custom,
          attempts: 0,
        };
      });
      await batchWrite(items.map((Item) => ({ PutRequest: { Item } })));
      this.report.processed += items.length;
    }
    await db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: tableName(),
              Key: c.keys.record,
              UpdateExpression: 'SET frozen = :t REMOVE freezeLeaseUntil',
              ConditionExpression: 'attribute_exists(PK)',
              ExpressionAttributeValues: { ':t': true },
            },
          },
          {
            Put: {
              TableName: tableName(),
              Item: {
                ...c.keys.stats,
                tenantId,
                entityType: c.recipientType === 'RCPT' ? 'CAMPSTATS' : `${c.recipientType}STATS`,
                recipients,
                suppressed,
                queued: recipients - suppressed,
                inFlight: 0,
                // Counters the public routes and consumers may already have started.
                ...(await this.carriedStats(c)),
              },
            },
          },
        ],
      }),
    );
    return true;
  }

  private async carriedStats(c: Mailing): Promise<Item> {
    const existing = await getItem(c.keys.stats);
    if (!existing) return {};
    const { PK: _p, SK: _s, tenantId: _t, entityType: _e, recipients: _r, suppressed: _su, queued: _q, inFlight: _i, ...rest } = existing;
    return rest;
  }

  private async send(tenantId: string, c: Mailing): Promise<void> {
    const settings = await loadSettings(tenantId);
    const composed = c.compose(settings);
    const batchSize = Math.min(MAX_BULK_ENTRIES, settings.sendRatePerSecond);
    for (;;) {
      if (this.outOfTime()) {
        this.report.complete = false;
        return;
      }
      const current = await getItem(c.keys.record);
      if (current?.status !== 'sending') return;
      const out = await db.send(
        new QueryCommand({ ...queryInput({ index: 'byParent', pk: c.keys.statusPartition('queued') }), Limit: 500 }),
      );
      const queued = out.Items ?? [];
      if (!queued.length) return;
      for (let i = 0; i < queued.length; i += batchSize) {
        if (this.outOfTime()) {
          this.report.complete = false;
          return;
        }
        if (i > 0) {
          const again = await getItem(c.keys.record);
          if (again?.status !== 'sending') return;
        }
        await this.pace(tenantId, settings.sendRatePerSecond, Math.min(batchSize, queued.length - i));
        await this.batch(tenantId, c, composed, queued.slice(i, i + batchSize));
      }
    }
  }

  private async pace(tenantId: string, rate: number, n: number): Promise<void> {
    const p = this.paced.get(tenantId) ?? { since: Date.now(), count: 0 };
    this.paced.set(tenantId, p);
    const wait = p.since + (p.count * 1000) / rate - Date.now();
    if (wait > 0) await (this.opts.sleep ?? sleep)(wait);
    p.count += n;
  }

  private async batch(tenantId: string, c: Mailing, composed: ReturnType<Mailing['compose']>, candidates: Item[]): Promise<void> {
    const nowIso = this.now.toISOString();
    const claimed = await transactEach(
      candidates.map((r) => ({
        Update: {
          TableName: tableName(),
          Key: c.keys.recipient(String(r.recipientId)),
          UpdateExpression: 'SET #s = :sending, parentPk = :pk, claimedAt = :now ADD attempts :one',
          ConditionExpression: '#s = :queued',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':sending': 'sending', ':queued': 'queued', ':pk': c.keys.statusPartition('sending'), ':now': nowIso, ':one': 1 },
          ReturnValuesOnConditionCheckFailure: 'NONE',
        },
      })),
      (n) => statsUpdate(c.keys.stats, { queued: -n, inFlight: n }),
    );
    const claimedItems = candidates.filter((_r, i) => claimed[i]);
    if (!claimedItems.length) return;
    await this.opts.afterClaim?.(claimedItems.map((r) => String(r.recipientId)));

    const entries: BulkEntry[] = claimedItems.map((r) => c.entry(tenantId, r));
    const results = await sendBulk({ tenantId, ...composed, entries });
    this.report.providerCalls++;
    this.sends += entries.length;
    if (this.opts.killAfterSends !== undefined && this.sends >= this.opts.killAfterSends) throw new DispatchKilled(`killed after ${this.sends} sends`);

    let sent = 0;
    let failed = 0;
    let requeued = 0;
    const finishes: TransactItem[] = claimedItems.map((r, i) => {
      const res = results[i]!;
      const rid = String(r.recipientId);
      let status: 'sent' | 'failed' | 'queued';
      const values: Item = { ':sending': 'sending' };
      let set = '#s = :status, parentPk = :pk';
      if (res.status === 'sent') {
        status = 'sent';
        sent++;
        set += ', sentAt = :now, messageId = :mid';
        values[':mid'] = res.messageId;
        values[':now'] = nowIso;
      } else if (res.retryable && Number(r.attempts ?? 0) + 1 < MAX_ATTEMPTS) {
        status = 'queued';
        requeued++;
        set += ', #e = :err';
        values[':err'] = res.error;
      } else {
        status = 'failed';
        failed++;
        set += ', #e = :err';
        values[':err'] = res.error;
      }
      values[':status'] = status;
      values[':pk'] = c.keys.statusPartition(status);
      return {
        Update: {
          TableName: tableName(),
          Key: c.keys.recipient(rid),
          UpdateExpression: `SET ${set} REMOVE claimedAt`,
          ConditionExpression: '#s = :sending',
          ExpressionAttributeNames: { '#s': 'status', ...(res.status === 'failed' ? { '#e': 'error' } : {}) },
          ExpressionAttributeValues: values,
        },
      };
    });
    await transactEach(finishes, () => statsUpdate(c.keys.stats, { inFlight: -claimedItems.length, sent, failed, queued: requeued }));
    this.report.sent += sent;
    this.report.failed += failed;
    this.report.processed += sent + failed;
    // A throttled provider: back off before the queue comes round to these again.
    if (requeued) await (this.opts.sleep ?? sleep)(RETRY_BACKOFF_MS);
  }

  private async cancelQueued(m: Mailing): Promise<void> {
    for (;;) {
      const queued = await queryAll({ index: 'byParent', pk: m.keys.statusPartition('queued') }, (items) => items.length >= 500);
      if (!queued.length) return;
      for (let i = 0; i < queued.length; i += MAX_BULK_ENTRIES) {
        const chunk = queued.slice(i, i + MAX_BULK_ENTRIES);
        const done = await transactEach(
          chunk.map((r) => ({
            Update: {
              TableName: tableName(),
              Key: m.keys.recipient(String(r.recipientId)),
              UpdateExpression: 'SET #s = :c, parentPk = :pk',
              ConditionExpression: '#s = :q',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: { ':c': 'canceled', ':q': 'queued', ':pk': m.keys.statusPartition('canceled') },
            },
          })),
          (n) => statsUpdate(m.keys.stats, { queued: -n, canceled: n }),
        );
        this.report.processed += done.filter(Boolean).length;
      }
    }
  }

  /** In-flight recipients of runs that died: never resent; `failed` with an unknown outcome. */
  private async resolveAbandoned(m: Mailing): Promise<void> {
    const cutoff = new Date(this.now.getTime() - IN_FLIGHT_LEASE_MS).toISOString();
    const stale = await queryAll({
      index: 'byParent',
      pk: m.keys.statusPartition('sending'),
      filter: { expression: 'claimedAt < :cutoff', values: { ':cutoff': cutoff } },
    });
    for (let i = 0; i < stale.length; i += MAX_BULK_ENTRIES) {
      const chunk = stale.slice(i, i + MAX_BULK_ENTRIES);
      const done = await transactEach(
        chunk.map((r) => ({
          Update: {
            TableName: tableName(),
            Key: m.keys.recipient(String(r.recipientId)),
            UpdateExpression: 'SET #s = :f, parentPk = :pk, #e = :e REMOVE claimedAt',
            ConditionExpression: '#s = :sending AND claimedAt < :cutoff',
            ExpressionAttributeNames: { '#s': 'status', '#e': 'error' },
            ExpressionAttributeValues: { ':f': 'failed', ':sending': 'sending', ':cutoff': cutoff, ':e': 'outcome_unknown', ':pk': m.keys.statusPartition('failed') },
          },
        })),
        (n) => statsUpdate(m.keys.stats, { inFlight: -n, failed: n }),
      );
      this.report.processed += done.filter(Boolean).length;
    }
  }

  private async finishIfDone(c: Mailing): Promise<void> {
    const stats = await getItem(c.keys.stats);
    const frozen = (await getItem(c.keys.record))?.frozen === true;
    const idle = !stats || (Number(stats.queued ?? 0) <= 0 && Number(stats.inFlight ?? 0) <= 0);
    if (!idle || (c.status === 'sending' && !frozen)) return;
    const values: Item = { ':now': this.now.toISOString(), ':one': 1 };
    let update = 'REMOVE duePk, dueSk';
    let condition = 'attribute_exists(duePk)';
    if (c.status === 'sending') {
      update = 'SET #s = :sent, completedAt = :now, updatedAt = :now ADD version :one REMOVE duePk, dueSk';
      condition = '#s = :sending';
      values[':sent'] = 'sent';
      values[':sending'] = 'sending';
    } else {
      delete values[':now'];
      delete values[':one'];
    }
    try {
      await db.send(
        new UpdateCommand({
          TableName: tableName(),
          Key: c.keys.record,
          UpdateExpression: update,
          ConditionExpression: condition,
          ...(c.status === 'sending' ? { ExpressionAttributeNames: { '#s': 'status' } } : {}),
          ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        }),
      );
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
    }
  }
}

function statsUpdate(statsKey: Key, deltas: Record<string, number>): TransactItem {
  const entries = Object.entries(deltas).filter(([, v]) => v !== 0);
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  const adds = entries.map(([k, v], i) => {
    names[`#c${i}`] = k;
    values[`:c${i}`] = v;
    return `#c${i} :c${i}`;
  });
  return {
    Update: {
      TableName: tableName(),
      Key: statsKey,
      UpdateExpression: `ADD ${adds.join(', ')}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}

/**
 * One transaction of conditional recipient updates plus the stats update for those that
 * land. Items whose condition fails (another run got there first) are dropped and the rest
 * committed again; a conflict with a concurrent transaction is retried. Answers, per item,
 * whether it was applied.
 */
async function transactEach(items: TransactItem[], stats: (applied: number) => TransactItem): Promise<boolean[]> {
  const applied = items.map(() => true);
  for (let attempt = 0; ; attempt++) {
    const live = items.filter((_x, i) => applied[i]);
    if (!live.length) return applied;
    try {
      await db.send(new TransactWriteCommand({ TransactItems: [...live, stats(live.length)] }));
      return applied;
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) throw err;
      const reasons = err.CancellationReasons ?? [];
      const liveIndexes = items.map((_x, i) => i).filter((i) => applied[i]);
      let dropped = false;
      reasons.forEach((r, j) => {
        if (r.Code === 'ConditionalCheckFailed' && j < liveIndexes.length) {
          applied[liveIndexes[j]!] = false;
          dropped = true;
        }
      });
      if (dropped) continue;
      if (attempt >= 20) throw err;
      await sleep(Math.random() * Math.min(250, 10 * 2 ** attempt));
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const _testing = { campaignDueSk };
