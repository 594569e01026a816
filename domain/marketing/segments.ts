/**
 * Segments (客户细分, api/marketing.md): a named rule over a tenant's contacts or leads,
 * evaluated when read.
 *
 * Keys: the segment `T#t#SEG#<id>` / `SEG`, listed through `byType` `T#t#SEG` (creation order).
 *
 * Evaluation reads the tenant's contacts (or leads) page by page through their `byType`
 * partition (`T#t#CONTACT`, name order) — a marketing audience is a bulk read of one entity of
 * one tenant, never a Scan of the table — and resolves `account.*` conditions with one
 * BatchGetItem per page of contacts (≤ 100 distinct accounts, each read once per walk), never
 * one request per contact. Both reads are eventually consistent: an audience may lag a write
 * by a second, at half the read cost.
 *
 * Member pages: a page's cursor is the key of the last record the page *examined* (the last
 * member when the page filled up mid-read, else the read's LastEvaluatedKey), signed and bound
 * like every cursor, and also to the segment's version: a segment changed mid-walk makes its old
 * cursors `400 invalid_cursor`, so no walk mixes two rule sets.
 */
import * as z from 'zod/mini';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { UseCaseContext } from '#domain/context.ts';
import { notFound, versionMismatch } from '#domain/errors.ts';
import * as f from '#domain/fields.ts';
import { builtOnFirstUse } from '#domain/built-on-first-use.ts';
import { requireRole } from '#domain/identity.ts';
import { mergePatch, newId, retryOnVersionRace, VersionRace } from '#domain/records.ts';
import { db } from '#domain/table/client.ts';
import { decodeCursor, encodeCursor } from '#domain/table/cursor.ts';
import { entityKey, stripKeys, t, typePartition } from '#domain/table/keys.ts';
import { getItem, getItems, queryInput, queryPage, type Page, type PageRequest } from '#domain/table/query.ts';
import { UnitOfWork } from '#domain/table/transaction.ts';
import { fieldDefinitions, visibleCustom, type FieldDefinition } from '#domain/marketing/custom-fields.ts';
import {
  checkConditions,
  conditionsInput,
  matches,
  OPS,
  SEGMENT_ENTITIES,
  usesAccount,
  type Condition,
  type SegmentEntity,
  MAX_CONDITIONS,
} from '#domain/marketing/conditions.ts';
import { MARKETING_ROLES } from '#domain/marketing/suppressions.ts';

export interface Segment {
  id: string;
  name: string;
  description?: string;
  entity: SegmentEntity;
  match: 'all' | 'any';
  conditions: Condition[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface SegmentMember {
  id: string;
  entity: 'contact' | 'lead';
  name: string;
  email: string | null;
  phone: string | null;
  ownerId: string | null;
  /** A contact's account name, a lead's company. */
  company: string | null;
  /** Only keys whose definitions exist now. */
  custom: Record<string, unknown>;
}

// Built on first use (z.lazy, domain/fields.ts): a cold start builds only the schemas its request needs.
const fields = builtOnFirstUse(() => ({
  name: f.name,
  description: z.optional(f.text(1, 1000)),
  entity: z.enum(SEGMENT_ENTITIES),
  match: z._default(z.enum(['all', 'any']), 'all'),
  conditions: conditionsInput,
}));
export const segmentCreate = z.lazy(() => z.strictObject(fields()));
export const segmentPatch = z.lazy(() => f.patchOf(fields(), ['description']));
export type SegmentCreate = z.infer<typeof segmentCreate>;
export type SegmentPatch = z.infer<typeof segmentPatch>;

/** A segment as clients see it (create, get, list, patch). */
export const segmentView = z.lazy(() =>
  z.object({
    id: f.out.id,
    name: f.out.name,
    description: z.optional(f.out.text),
    entity: z.enum(SEGMENT_ENTITIES),
    match: z.enum(['all', 'any']),
    conditions: z.array(z.object({ field: f.out.name, op: z.enum(OPS), value: z.optional(z.unknown()) })).check(z.maxLength(MAX_CONDITIONS)),
    createdBy: f.out.id,
    createdAt: f.out.timestamp,
    updatedAt: f.out.timestamp,
    version: z.int(),
  }),
);

/** One record of `GET /v1/segments/{id}/members`: a contact or lead matching now. */
export const segmentMemberView = z.lazy(() =>
  z.object({
    id: f.out.id,
    entity: z.enum(['contact', 'lead']),
    name: f.out.name,
    email: z.nullable(f.out.email),
    phone: z.nullable(f.out.phone),
  }),
);

export const segmentCountView = z.lazy(() => z.object({ count: z.int().check(z.describe('the records matching now')) }));

export const segmentKey = (tenantId: string, id: string) => ({ PK: `${t(tenantId)}#SEG#${id}`, SK: 'SEG' });
const segmentPartition = (tenantId: string) => `${t(tenantId)}#SEG`;

function toItem(tenantId: string, s: Segment): Record<string, unknown> {
  return { ...s, ...segmentKey(tenantId, s.id), tenantId, entityType: 'SEGMENT', typePk: segmentPartition(tenantId), typeSk: s.id };
}
const fromItem = (item: Record<string, unknown>) => stripKeys<Segment>(item);

// ---------------------------------------------------------------------------------------
// CRUD

/** The segment (404 `not_found` for an unknown id in the tenant). */
export async function loadSegment(tenantId: string, segmentId: string): Promise<Segment> {
  const item = await getItem(segmentKey(tenantId, segmentId));
  if (!item) throw notFound('segment');
  return fromItem(item);
}

async function checked(tenantId: string, entity: SegmentEntity, conditions: Condition[]): Promise<Condition[]> {
  return checkConditions(entity, await fieldDefinitions(tenantId, entity), conditions);
}

export async function createSegment(ctx: UseCaseContext, body: SegmentCreate): Promise<Segment> {
  requireRole(ctx.identity, ...MARKETING_ROLES);
  const tenantId = ctx.identity.tenantId;
  const at = ctx.now.toISOString();
  const segment: Segment = {
    id: newId(ctx),
    name: body.name,
    ...(body.description !== undefined ? { description: body.description } : {}),
    entity: body.entity,
    match: body.match,
    conditions: await checked(tenantId, body.entity, body.conditions as Condition[]),
    createdBy: ctx.identity.userId,
    createdAt: at,
    updatedAt: at,
    version: 1,
  };
  return new UnitOfWork(ctx)
    .put(toItem(tenantId, segment), { condition: 'attribute_not_exists(PK)', onConditionFailed: () => new Error(`id collision on segment ${segment.id}`) })
    .commit(segment);
}

/**
 * A segment the caller may manage: 404 first (another tenant's id looks like a missing one to
 * every role, API.md §3), then 403 for a role outside marketing.
 */
async function loadManaged(ctx: UseCaseContext, id: string): Promise<Segment> {
  const segment = await loadSegment(ctx.identity.tenantId, id);
  requireRole(ctx.identity, ...MARKETING_ROLES);
  return segment;
}

export async function getSegment(ctx: UseCaseContext, id: string): Promise<Segment> {
  return loadManaged(ctx, id);
}

export async function listSegments(ctx: UseCaseContext, page: PageRequest): Promise<Page<Segment>> {
  requireRole(ctx.identity, ...MARKETING_ROLES);
  return queryPage({ index: 'byType', pk: segmentPartition(ctx.identity.tenantId) }, page, fromItem);
}

const versionIs = (version: number) => ({
  condition: '#v = :v',
  names: { '#v': 'version' },
  values: { ':v': version },
  onConditionFailed: () => new VersionRace(),
});

export async function updateSegment(ctx: UseCaseContext, id: string, patch: SegmentPatch, ifMatch: number | undefined): Promise<Segment> {
  const tenantId = ctx.identity.tenantId;
  return retryOnVersionRace(ifMatch, async () => {
    const before = await loadManaged(ctx, id);
    if (ifMatch !== undefined && ifMatch !== before.version) throw versionMismatch();
    const after = mergePatch(before, patch as Record<string, unknown>);
    // The rules as a whole must still hold (a new entity re-checks the old conditions).
    after.conditions = await checked(tenantId, after.entity, after.conditions);
    if (JSON.stringify(after) === JSON.stringify(before)) return before;
    const next: Segment = { ...after, version: before.version + 1, updatedAt: ctx.now.toISOString() };
    return new UnitOfWork(ctx).put(toItem(tenantId, next), versionIs(before.version)).commit(next);
  });
}

export async function deleteSegment(ctx: UseCaseContext, id: string, ifMatch: number | undefined): Promise<void> {
  const tenantId = ctx.identity.tenantId;
  await retryOnVersionRace(ifMatch, async () => {
    const segment = await loadManaged(ctx, id);
    if (ifMatch !== undefined && ifMatch !== segment.version) throw versionMismatch();
    await new UnitOfWork(ctx).delete(segmentKey(tenantId, id), versionIs(segment.version)).commit(undefined);
  });
}

// ---------------------------------------------------------------------------------------
// Evaluation

type Item = Record<string, unknown>;
type Key = Record<string, unknown>;

/** Reads of one evaluation: the rule, the definitions in force, and the accounts already fetched. */
class Evaluator {
  private readonly accounts = new Map<string, Item | null>();

  private constructor(
    readonly tenantId: string,
    readonly segment: Segment,
    readonly defs: FieldDefinition[],
    /** Fetch accounts even without account conditions (members carry their account's name). */
    private readonly withCompany: boolean,
  ) {}

  static async of(tenantId: string, segment: Segment, withCompany: boolean): Promise<Evaluator> {
    return new Evaluator(tenantId, segment, await fieldDefinitions(tenantId, segment.entity), withCompany);
  }

  get source(): string {
    return typePartition(this.tenantId, this.segment.entity === 'contacts' ? 'CONTACT' : 'LEAD');
  }

  /** One Query of the entity's partition. */
  async read(start: Key | undefined, limit: number): Promise<{ items: Item[]; last: Key | undefined }> {
    const out = await db.send(
      new QueryCommand({ ...queryInput({ index: 'byType', pk: this.source }), Limit: limit, ...(start ? { ExclusiveStartKey: start } : {}) }),
    );
    return { items: out.Items ?? [], last: out.LastEvaluatedKey };
  }

  /** The records of `items` that match, in order, each with its account (one BatchGetItem per ≤ 100 new accounts). */
  async evaluate(items: Item[]): Promise<{ item: Item; account: Item | undefined; matched: boolean }[]> {
    const needAccounts = this.segment.entity === 'contacts' && (this.withCompany || usesAccount(this.segment.conditions));
    if (needAccounts) await this.fetchAccounts(items.map((i) => i.accountId).filter((a): a is string => typeof a === 'string'));
    return items.map((item) => {
      const account = typeof item.accountId === 'string' ? (this.accounts.get(item.accountId) ?? undefined) : undefined;
      return { item, account, matched: matches(this.segment, this.defs, item, account) };
    });
  }

  private async fetchAccounts(ids: string[]): Promise<void> {
    const missing = [...new Set(ids)].filter((id) => !this.accounts.has(id));
    for (let i = 0; i < missing.length; i += 100) {
      const chunk = missing.slice(i, i + 100);
      const got = await getItems(chunk.map((id) => entityKey(this.tenantId, 'ACCOUNT', id)), false);
      chunk.forEach((id, j) => this.accounts.set(id, got[j] ?? null));
    }
  }

  member(item: Item, account: Item | undefined): SegmentMember {
    const contact = this.segment.entity === 'contacts';
    return {
      id: item.id as string,
      entity: contact ? 'contact' : 'lead',
      name: item.name as string,
      email: (item.email as string | undefined) ?? null,
      phone: (item.phone as string | undefined) ?? null,
      ownerId: (item.ownerId as string | null | undefined) ?? null,
      company: ((contact ? account?.name : item.company) as string | undefined) ?? null,
      custom: visibleCustom(this.defs, item.custom as Record<string, unknown> | undefined),
    };
  }
}

/** The key a Query of the byType index resumes after, from one of its items. */
const resumeKeyOf = (item: Item): Key => ({ PK: item.PK, SK: item.SK, typePk: item.typePk, typeSk: item.typeSk });

/** Records a member page may examine before it answers short (more remain: its cursor says where). */
const MAX_EXAMINED_PER_PAGE = 2000;

/** `GET /v1/segments/{id}/members`: the records matching now, one page. */
export async function segmentMembersPage(
  ctx: UseCaseContext,
  id: string,
  page: PageRequest,
): Promise<Page<Pick<SegmentMember, 'id' | 'entity' | 'name' | 'email' | 'phone'>>> {
  const tenantId = ctx.identity.tenantId;
  const segment = await loadManaged(ctx, id);
  const scope = { ...page.scope, query: `${page.scope.query}#v${segment.version}` };
  const ev = await Evaluator.of(tenantId, segment, false);
  let start = page.cursor ? decodeCursor(scope, page.cursor) : undefined;
  const items: Pick<SegmentMember, 'id' | 'entity' | 'name' | 'email' | 'phone'>[] = [];
  let examined = 0;
  for (;;) {
    // Ask for what is still missing (at least 25): a page rarely reads records it does not use.
    const { items: read, last } = await ev.read(start, Math.max(page.limit - items.length, 25));
    examined += read.length;
    const judged = await ev.evaluate(read);
    for (let i = 0; i < judged.length; i++) {
      const { item, account, matched } = judged[i]!;
      if (!matched) continue;
      const { id: memberId, entity, name, email, phone } = ev.member(item, account);
      items.push({ id: memberId, entity, name, email, phone });
      if (items.length === page.limit) {
        const more = i < judged.length - 1 || last !== undefined;
        return { items, nextCursor: more ? encodeCursor(scope, resumeKeyOf(item)) : null };
      }
    }
    if (!last) return { items, nextCursor: null };
    start = last;
    if (examined >= MAX_EXAMINED_PER_PAGE) return { items, nextCursor: encodeCursor(scope, last) };
  }
}

/** Every record matching now, page after page of up to 100 read records. */
async function* matchingRecords(ev: Evaluator): AsyncGenerator<{ item: Item; account: Item | undefined }[]> {
  let start: Key | undefined;
  do {
    const { items, last } = await ev.read(start, 100);
    yield (await ev.evaluate(items)).filter((j) => j.matched);
    start = last;
  } while (start);
}

/**
 * Every member matching now, page by page (each page ≤ pageSize, default 100); reads pages of the
 * tenant's contacts/leads and resolves account.* conditions with BatchGetItem, never one request
 * per contact.
 */
export async function* walkSegmentMembers(tenantId: string, segmentId: string, opts: { pageSize?: number } = {}): AsyncGenerator<SegmentMember[]> {
  const pageSize = Math.max(1, opts.pageSize ?? 100);
  const ev = await Evaluator.of(tenantId, await loadSegment(tenantId, segmentId), true);
  let buffer: SegmentMember[] = [];
  for await (const matched of matchingRecords(ev)) {
    buffer.push(...matched.map(({ item, account }) => ev.member(item, account)));
    while (buffer.length >= pageSize) {
      yield buffer.slice(0, pageSize);
      buffer = buffer.slice(pageSize);
    }
  }
  if (buffer.length) yield buffer;
}

/** `GET /v1/segments/{id}/count`. */
export async function countSegment(ctx: UseCaseContext, id: string): Promise<{ count: number }> {
  const tenantId = ctx.identity.tenantId;
  const ev = await Evaluator.of(tenantId, await loadManaged(ctx, id), false);
  let count = 0;
  for await (const matched of matchingRecords(ev)) count += matched.length;
  return { count };
}
