/**
 * Injected faults, the long run (issue 11 point 3; the quick one is test/faults/*): every fault
 * kind of test/support/faults.ts (ProvisionedThroughputExceededException, ThrottlingException, a
 * TransactionConflict cancellation, InternalServerError, a timeout) at several calls of every write
 * route of the route table, each lasting through the SDK's retries, plus each once (the SDK's retry
 * wins). Each case seeds a tenant like the route's twin, whose fault-free run is the reference.
 *
 * - `faults.write_routes`: the write routes (POST, PUT, PATCH, DELETE) of functions/routes.ts;
 * - `faults.write_routes_covered`: those whose every case ran (a route that calls no DynamoDB counts: nothing to fault);
 * - `faults.cases`, `faults.5xx` (answers ≥ 500 other than 503 `unavailable`), `faults.partial_writes`
 *   (a failed request that left part of its effect, or a success without all of it), `faults.other_problems`
 *   (an answer neither the twin's, nor 503 with Retry-After, nor a contended 409; a retry that did not finish).
 *
 * `BENCH_FAULTS_EVERY_CALL=1` faults every call of every route (else the first and the last call
 * each kind can hit); `BENCH_FAULTS_ROUTES=<regex>` limits the routes (a brief run).
 * Registered in bench/scenarios.ts; also runs alone: `npx tsx bench/faults.ts`.
 */
import type { DynamoMeter } from './dynamo-meter.ts';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface FaultBenchInput {
  call: Call;
  meter: DynamoMeter;
  figures: Record<string, number>;
  notes: string[];
}

const progress = (msg: string) => process.stderr.write(`bench: faults: ${msg}\n`);

export async function faultScenarios({ meter, figures, notes }: FaultBenchInput): Promise<void> {
  process.env.WEBHOOKS_ALLOW_LOOPBACK ??= '1';
  const { usePublisher } = await import('#events/publisher.ts');
  const { inProcessPublisher } = await import('#local/bus.ts');
  usePublisher(inProcessPublisher());
  const { FAULT_KINDS } = await import('#test/support/faults.ts');
  const s = await import('#test/faults/support.ts');
  const { CreateTableCommand, DeleteTableCommand } = await import('@aws-sdk/client-dynamodb');
  const { db } = await import('#domain/table/client.ts');
  const { createTableInput } = await import('#domain/table/definition.ts');
  const everyCall = process.env.BENCH_FAULTS_EVERY_CALL === '1';
  const only = process.env.BENCH_FAULTS_ROUTES ? new RegExp(process.env.BENCH_FAULTS_ROUTES) : undefined;

  let covered = 0;
  let cases = 0;
  let fiveHundreds = 0;
  let partials = 0;
  let others = 0;
  const problems: string[] = [];
  const uncovered: string[] = [];
  const started = Date.now();
  // Each route on a table of its own: a case reads its tenants' items with a Scan, which would
  // otherwise grow with every earlier case (the run slowed from seconds to minutes a route).
  const sharedTable = process.env.TABLE_NAME!;
  const onOwnTable = async <T>(i: number, work: () => Promise<T>): Promise<T> => {
    const own = `${sharedTable}-f${i}`;
    await db.send(new CreateTableCommand(createTableInput(own)));
    process.env.TABLE_NAME = own;
    try {
      return await work();
    } finally {
      process.env.TABLE_NAME = sharedTable;
      await db.send(new DeleteTableCommand({ TableName: own }));
    }
  };
  await meter.unmetered(async () => {
    for (const [i, route] of s.writeRoutes.entries()) {
      const key = s.keyOf(route);
      const faultable = !route.public || s.PUBLIC_CASES[key];
      if (!faultable || (only && !only.test(key))) {
        uncovered.push(`${key} (${faultable ? 'left out by BENCH_FAULTS_ROUTES' : 'public: no case yet'})`);
        continue;
      }
      try {
        await onOwnTable(i, async () => {
          const twin = await s.prepare(route, `bf-${i}-twin`);
          const ref = await s.reference(twin);
          let n = 0;
          // A route that calls no DynamoDB (an upload URL is presigned) has nothing to fault.
          if (ref.ops.length > 0) {
            for (const kind of FAULT_KINDS) {
              const calls = s.callsFor(ref, kind);
              if (calls.length === 0) continue;
              const writes = calls.filter((c) => s.WRITE_OPS.includes(ref.ops[c]!));
              const lastWrite = writes.at(-1) ?? calls.at(-1)!;
              const at = everyCall ? calls : [...new Set([calls[0]!, calls.at(-1)!])];
              const plans = [...at.map((c) => ({ c, times: undefined as number | undefined })), { c: lastWrite, times: 1 }];
              for (const { c, times } of plans) {
                const main = await s.prepare(route, `bf-${i}-${++n}`);
                const o = await s.faulted(main, ref, s.planAt(ref, c, kind, times), `${kind}${times ? ' once' : ''} at call ${c + 1} (${ref.ops[c]})`, s.RESUMABLE.has(key));
                cases++;
                if (o.fiveHundred) fiveHundreds++;
                if (o.partial) partials++;
                if (o.problems.length && !o.partial && !o.fiveHundred) others++;
                problems.push(...o.problems.map((p) => `${key}: ${p}`));
                for (const p of o.problems) progress(`PROBLEM ${key}: ${p.slice(0, 400)}`);
              }
            }
          }
          covered++;
          progress(`${key}: ${n} cases (${cases} in all, ${Math.round((Date.now() - started) / 1000)} s)`);
        });
      } catch (err) {
        uncovered.push(`${key} (${err instanceof Error ? err.message.slice(0, 200) : String(err)})`);
      }
    }
  });
  figures['faults.write_routes'] = s.writeRoutes.length;
  figures['faults.write_routes_covered'] = covered;
  figures['faults.cases'] = cases;
  figures['faults.5xx'] = fiveHundreds;
  figures['faults.partial_writes'] = partials;
  figures['faults.other_problems'] = others;
  notes.push(
    `faults: ${cases} cases over ${covered} of ${s.writeRoutes.length} write routes (${everyCall ? 'every call' : 'first and last call'} of each fault kind, lasting, and once at the last write): ` +
      `${fiveHundreds} 5xx, ${partials} partial writes, ${others} other problems, ${Math.round((Date.now() - started) / 1000)} s.`,
  );
  if (uncovered.length) notes.push(`faults: not covered: ${uncovered.join('; ')}`);
  for (const p of problems.slice(0, 20)) notes.push(`faults: ${p}`);
}

/** `npx tsx bench/faults.ts`: this part alone, on its own DynamoDB Local. */
if (isEntry(import.meta.url)) runStandalone('faults', faultScenarios);
