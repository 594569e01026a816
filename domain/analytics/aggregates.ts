/**
 * The aggregates the analytics pages read (docs/access-patterns.md "Analytics"), kept from
 * the event stream by `applySubject`, never computed from every record at read time.
 *
 * A *subject* is one thing that contributes figures: an opportunity, an order, a payment, an
 * activity, a target, an account's creation, a pool move... Its *facts* (domain/analytics/facts.ts)
 * say which figures it adds to which row: `{period, userId, teamId, attrs}`. What a subject
 * contributes now is remembered in its CONTRIB item with the version of the record it was
 * computed from; applying a newer version adds the difference (new − old) to the rows and
 * replaces the CONTRIB item, in ONE transaction conditioned on the stored version. So:
 *   - an event delivered twice, or an older event after a newer one, changes nothing
 *     (its version is not newer);
 *   - a move, an amount, a close date, an owner or a deletion moves the contribution exactly;
 *   - the rows are always the sum of the CONTRIB items, which is what the rebuild recomputes.
 *
 * Rows: one partition per tenant, `T#t#AGG`, sort keys `<family>#<month>#<scope>` with
 *   families `D` (the dashboard's figures), `F` (the forecast's categories and open groups) and
 *   `FU` (the funnel's cohorts), so a page reads only the columns it shows, and scopes
 *   `U#<team|->#<user>`   a user's figures in a team (the `members` of a team or tenant)
 *   `SU#<user>` / `ST#<team>` / `S`   user, team and tenant scope;
 *   `NOW#SU#<user>` / `NOW#ST#<team>` / `NOW#S`   figures of no period (outstanding amounts)
 *   `MODEL`   the tenant's win history for the forecast (domain/analytics/forecast-model.ts)
 * so a family's month range is one Query and a scope's row of a month is one key.
 */
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { db, tableName } from '#domain/table/client.ts';
import { t } from '#domain/table/keys.ts';
import { getItem, getItems, queryAll } from '#domain/table/query.ts';

type Item = Record<string, unknown>;

/** A period row family: a month `YYYY-MM`, `NOW` (no period) or the tenant's `MODEL`. */
export interface Fact {
  period: string;
  userId: string | null;
  teamId: string | null;
  attrs: Record<string, number>;
}

export type Scope = { kind: 'tenant'; id: string } | { kind: 'team'; id: string } | { kind: 'user'; id: string };

export const aggPartition = (tenantId: string) => `${t(tenantId)}#AGG`;
export const contribPartition = (tenantId: string, kind: string) => `${t(tenantId)}#CONTRIB#${kind}`;
export const MODEL_SK = 'MODEL';
const NO_TEAM = '-';

/** Which row family a column lives in (see the header). */
export type Family = 'D' | 'F' | 'FU';
const familyOf = (attr: string): Family =>
  attr.startsWith('og|') || attr.startsWith('fc_') || attr === 'fw' ? 'F' : attr.startsWith('fu|') ? 'FU' : 'D';

const prefixOf = (period: string, family: Family) => (period === 'NOW' ? 'NOW#' : `${family}#${period}#`);

/** The sort key of a scope's row in a period (and family: the dashboard's by default). */
export function scopeSk(period: string, scope: Scope, family: Family = 'D'): string {
  const p = prefixOf(period, family);
  if (scope.kind === 'tenant') return `${p}S`;
  return scope.kind === 'team' ? `${p}ST#${scope.id}` : `${p}SU#${scope.id}`;
}

/** Every row a fact adds to, with its columns there: the user-in-team row, the user's, the team's and the tenant's. */
function rowsOf(fact: Fact): [string, [string, number][]][] {
  if (fact.period === 'MODEL') return [[MODEL_SK, Object.entries(fact.attrs)]];
  const byFamily = new Map<Family, [string, number][]>();
  for (const entry of Object.entries(fact.attrs)) {
    const family = familyOf(entry[0]);
    byFamily.set(family, [...(byFamily.get(family) ?? []), entry]);
  }
  return [...byFamily].flatMap(([family, attrs]) => {
    const p = prefixOf(fact.period, family);
    const rows: string[] = [];
    if (fact.userId) {
      if (fact.period !== 'NOW') rows.push(`${p}U#${fact.teamId ?? NO_TEAM}#${fact.userId}`);
      rows.push(`${p}SU#${fact.userId}`);
    }
    if (fact.teamId) rows.push(`${p}ST#${fact.teamId}`);
    rows.push(`${p}S`);
    return rows.map((sk): [string, [string, number][]] => [sk, attrs]);
  });
}

/** Row → attribute → sum, of a list of facts (what `sign` × the facts add to each row). */
export function rowSums(facts: readonly Fact[], sign = 1, into = new Map<string, Map<string, number>>()): Map<string, Map<string, number>> {
  for (const fact of facts) {
    for (const [sk, attrs] of rowsOf(fact)) {
      let row = into.get(sk);
      if (!row) into.set(sk, (row = new Map()));
      for (const [attr, value] of attrs) {
        if (value !== 0) row.set(attr, (row.get(attr) ?? 0) + sign * value);
      }
    }
  }
  return into;
}

/** A user-in-team row's sort key, split: `<family>#<month>#U#<team>#<user>`. */
export function memberOfSk(sk: string): { month: string; teamId: string | null; userId: string } | undefined {
  const m = /^(?:D|F|FU)#(\d{4}-\d{2})#U#([^#]*)#(.+)$/.exec(sk);
  if (!m) return undefined;
  return { month: m[1]!, teamId: m[2] === NO_TEAM ? null : m[2]!, userId: m[3]! };
}

/** A team row's team of a month's rows: `D#<month>#ST#<team>`. */
export function teamOfSk(sk: string, month: string): string | undefined {
  return sk.startsWith(`D#${month}#ST#`) ? sk.slice(`D#${month}#ST#`.length) : undefined;
}

export interface Subject {
  kind: string;
  id: string;
}

/** Thrown when another consumer stored this subject's contribution between our read and write. */
class ContributionRace extends Error {}

/** Rows of one transaction at most: DynamoDB allows 100 items, one is the CONTRIB item. */
const MAX_ROWS = 99;

/**
 * Makes the rows hold `facts` as this subject's contribution at `version`. Returns false when
 * the stored contribution is as new or newer (a duplicate or out-of-order delivery).
 */
export async function applySubject(
  tenantId: string,
  subject: Subject,
  version: number,
  facts: readonly Fact[],
  /** The rows' partition: the analytics pages' by default; the service report keeps its own (`T#t#SVCAGG`). */
  rowsPartition = aggPartition(tenantId),
): Promise<boolean> {
  const key = { PK: contribPartition(tenantId, subject.kind), SK: subject.id };
  for (let attempt = 0; attempt < 20; attempt++) {
    const stored = await getItem(key);
    if (stored && Number(stored.version) >= version) return false;
    const before = stored ? (JSON.parse(String(stored.facts)) as Fact[]) : [];
    const delta = rowSums(before, -1, rowSums(facts));
    const rows = [...delta].filter(([, attrs]) => [...attrs.values()].some((v) => v !== 0));
    if (rows.length > MAX_ROWS) throw new Error(`${subject.kind} ${subject.id} touches ${rows.length} rows; at most ${MAX_ROWS} fit one transaction`);
    try {
      await db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: tableName(),
                Item: { ...key, tenantId, entityType: 'CONTRIB', kind: subject.kind, version, facts: JSON.stringify(facts) },
                ConditionExpression: 'attribute_not_exists(PK) OR version < :v',
                ExpressionAttributeValues: { ':v': version },
              },
            },
            ...rows.map(([sk, attrs]) => ({ Update: addToRow(tenantId, rowsPartition, sk, attrs) })),
          ],
        }),
      );
      return true;
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) throw err;
      const reasons = err.CancellationReasons ?? [];
      // Another delivery stored this subject first: read again and decide.
      if (reasons[0]?.Code === 'ConditionalCheckFailed') continue;
      if (!reasons.some((r) => r.Code === 'TransactionConflict')) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(250, 20 * 2 ** attempt)));
    }
  }
  throw new ContributionRace(`${subject.kind} ${subject.id}: too many concurrent updates`);
}

function addToRow(tenantId: string, partition: string, sk: string, attrs: Map<string, number>) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':tenant': tenantId, ':type': 'AGG' };
  const adds: string[] = [];
  [...attrs].forEach(([attr, value], i) => {
    if (value === 0) return;
    names[`#a${i}`] = attr;
    values[`:a${i}`] = value;
    adds.push(`#a${i} :a${i}`);
  });
  return {
    TableName: tableName(),
    Key: { PK: partition, SK: sk },
    UpdateExpression: `SET tenantId = :tenant, entityType = :type ADD ${adds.join(', ')}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

// ---------------------------------------------------------------------------------------
// Reading rows

export type Row = Record<string, number>;

/** A row's figures: its number attributes, keys and bookkeeping left out. */
export function rowOf(item: Item | undefined): Row {
  const row: Row = {};
  if (!item) return row;
  for (const [k, v] of Object.entries(item)) if (typeof v === 'number') row[k] = v;
  return row;
}

/** Every row of one family of the months `from`..`to`: one Query (more pages only for tenants with very many users). */
export async function monthRows(tenantId: string, from: string, to: string, family: Family = 'D'): Promise<Map<string, Row>> {
  // `$` sorts right after `#`: the upper bound holds every row of `to`, whatever its ids.
  const items = await queryAll({ pk: aggPartition(tenantId), sk: { between: [`${family}#${from}#`, `${family}#${to}$`] }, consistent: true }, () => false);
  return new Map(items.map((item) => [String(item.SK), rowOf(item)]));
}

/** Rows by sort key, one BatchGetItem. */
export async function rowsByKey(tenantId: string, sks: string[]): Promise<Row[]> {
  const items = await getItems(sks.map((SK) => ({ PK: aggPartition(tenantId), SK })));
  return items.map(rowOf);
}

/** The sum of several rows. */
export function sumRows(rows: Iterable<Row>): Row {
  const out: Row = {};
  for (const row of rows) for (const [k, v] of Object.entries(row)) out[k] = (out[k] ?? 0) + v;
  return out;
}
