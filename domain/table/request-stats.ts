/**
 * What one request (or one piece of background work) spent on the table: DynamoDB calls and the
 * time awaiting them, the SDK's own retries, and the product's retries (a version race re-read,
 * a transaction conflict retried) with the time slept between them. Counted in an
 * AsyncLocalStorage scope that the local runtime opens per request when `CRM_REQUEST_STATS` is
 * set (local/server.ts logs it with the answer; bench/load.ts reads it to find the tail). Outside
 * a scope nothing is counted: the cost in Lambda is one `getStore()` per call.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestStats {
  /** DynamoDB calls made (each SDK retry is inside one call). */
  dbCalls: number;
  /** Time spent awaiting DynamoDB, summed over the calls (they may overlap). */
  dbMs: number;
  /** Extra attempts the SDK made inside those calls (`$metadata.attempts` − 1). */
  sdkRetries: number;
  /** Read-modify-write rounds re-run after a version race (domain/records.ts). */
  versionRetries: number;
  /** TransactWriteItems re-sent after a TransactionConflict (domain/table/transaction.ts). */
  conflictRetries: number;
  /** Time slept in backoff between those retries. */
  backoffMs: number;
  /** The most table calls in flight at once (a burst queues every other caller's calls behind it). */
  peakCalls: number;
  /** Table calls in flight now. */
  inFlight: number;
}

export const emptyStats = (): RequestStats => ({ dbCalls: 0, dbMs: 0, sdkRetries: 0, versionRetries: 0, conflictRetries: 0, backoffMs: 0, peakCalls: 0, inFlight: 0 });

const storage = new AsyncLocalStorage<RequestStats>();

/** Runs `fn` counting into `stats` (nested scopes count into the innermost). */
export function countingInto<T>(stats: RequestStats, fn: () => Promise<T>): Promise<T> {
  return storage.run(stats, fn);
}

/** Leaves any counting scope: work started here (a timer, a relay) is not the caller's. */
export function notCounting<T>(fn: () => T): T {
  return storage.exit(fn);
}

/** Adds to the current scope's counters, if any. */
export function count(add: Partial<RequestStats>): void {
  const stats = storage.getStore();
  if (!stats) return;
  for (const [k, v] of Object.entries(add) as [keyof RequestStats, number][]) stats[k] += v;
}

/** A table call starts: returns what to call when it ends, with its attempts (`$metadata.attempts`). */
export function callStarted(): (attempts: number | undefined) => void {
  const stats = storage.getStore();
  if (!stats) return () => undefined;
  const started = performance.now();
  stats.inFlight++;
  stats.peakCalls = Math.max(stats.peakCalls, stats.inFlight);
  return (attempts) => {
    stats.inFlight--;
    stats.dbCalls++;
    stats.dbMs += performance.now() - started;
    stats.sdkRetries += Math.max(0, (attempts ?? 1) - 1);
  };
}

/** `db=3/41ms peak=1 sdk=0 ver=2 tx=1 slept=57ms`: how local/server.ts appends them to an answer line. */
export const formatStats = (s: RequestStats) =>
  `db=${s.dbCalls}/${Math.round(s.dbMs)}ms peak=${s.peakCalls} sdk=${s.sdkRetries} ver=${s.versionRetries} tx=${s.conflictRetries} slept=${Math.round(s.backoffMs)}ms`;

const STATS_SUFFIX = /db=(\d+)\/(\d+)ms peak=(\d+) sdk=(\d+) ver=(\d+) tx=(\d+) slept=(\d+)ms/;

export function parseStats(text: string): RequestStats | undefined {
  const m = STATS_SUFFIX.exec(text);
  if (!m) return undefined;
  const [dbCalls, dbMs, peakCalls, sdkRetries, versionRetries, conflictRetries, backoffMs] = m.slice(1).map(Number) as number[];
  return { dbCalls: dbCalls!, dbMs: dbMs!, peakCalls: peakCalls!, sdkRetries: sdkRetries!, versionRetries: versionRetries!, conflictRetries: conflictRetries!, backoffMs: backoffMs!, inFlight: 0 };
}
