/**
 * Which index serves a list, by role and filters (docs/access-patterns.md):
 * an explicit owner → byOwner; a rep → its own byOwner partition; a manager → its
 * team's byTeam partition; everyone else → the tenant's byType partition. Name order,
 * so a name prefix `q` is a key condition on any of them.
 */
import type { UseCaseContext } from '#domain/context.ts';
import type { IndexName } from '#domain/table/definition.ts';
import { nameKey, ownerPartition, teamPartition, typePartition, type EntityType } from '#domain/table/keys.ts';
import type { QuerySpec } from '#domain/table/query.ts';

export function ownedListQuery(
  ctx: UseCaseContext,
  type: EntityType,
  filters: { ownerId?: string | undefined; q?: string | undefined },
  readsTenantWide: boolean,
): QuerySpec {
  const who = ctx.identity;
  const tenant = who.tenantId;
  let index: IndexName;
  let pk: string;
  const ownerId = filters.ownerId === 'me' ? who.userId : filters.ownerId;
  if (ownerId !== undefined) {
    index = 'byOwner';
    pk = ownerPartition(tenant, type, ownerId);
  } else if (who.role === 'admin' || readsTenantWide) {
    index = 'byType';
    pk = typePartition(tenant, type);
  } else if (who.role === 'manager' && who.teamId) {
    index = 'byTeam';
    pk = teamPartition(tenant, type, who.teamId);
  } else {
    index = 'byOwner';
    pk = ownerPartition(tenant, type, who.userId);
  }
  return { index, pk, ...(filters.q ? { sk: { beginsWith: nameKey(filters.q) } } : {}) };
}

/** A FilterExpression from equality and membership filters that no key serves. */
export function attributeFilter(equal: Record<string, unknown>, contains: Record<string, unknown> = {}): QuerySpec['filter'] {
  const parts: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  let i = 0;
  for (const [attr, value] of Object.entries(equal)) {
    if (value === undefined) continue;
    names[`#f${i}`] = attr;
    values[`:f${i}`] = value;
    parts.push(`#f${i} = :f${i}`);
    i++;
  }
  for (const [attr, value] of Object.entries(contains)) {
    if (value === undefined) continue;
    names[`#f${i}`] = attr;
    values[`:f${i}`] = value;
    parts.push(`contains(#f${i}, :f${i})`);
    i++;
  }
  return parts.length ? { expression: parts.join(' AND '), names, values } : undefined;
}
