/**
 * The fuzzer's long run (issue 11 point 2): the generators of `test/contract/fuzz.test.ts`
 * (test/support/fuzz-arbitraries.ts) over every route of the route table — public routes
 * included — and the local-only job trigger, `FUZZ_REQUESTS` requests in all (default 20,000),
 * spread evenly over the routes, through the local router as a client calls the API.
 *
 * Figures: `fuzz.requests`, `fuzz.5xx` (target 0), `fuzz.bad_answers` (a 4xx that is not
 * problem+json with a `code`). The seed is random (or `FUZZ_SEED`) and printed: route k's
 * requests are the first `FUZZ_RUNS` values of that seed, exactly what the test sends for that
 * route with the same `FUZZ_SEED` and `FUZZ_RUNS`, so a failure here replays there (the notes
 * print the command).
 *
 * Registered in bench/scenarios.ts; also runs alone: `FUZZ_REQUESTS=2000 npx tsx bench/fuzz.ts`.
 */
import fc from 'fast-check';
import type { Call } from './scenarios.ts';
import { isEntry, runStandalone } from './standalone.ts';

export interface FuzzBenchInput {
  call: Call;
  figures: Record<string, number>;
  notes: string[];
}

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 20_000);
/** Requests in flight at once (one route at a time). */
const PARALLEL = 4;
const progress = (msg: string) => process.stderr.write(`bench: fuzz: ${msg}\n`);

export async function fuzzScenarios({ call, figures, notes }: FuzzBenchInput): Promise<void> {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
  try {
    // Loaded here: they bring the table client, which reads DYNAMODB_ENDPOINT when it loads.
    const { routes } = await import('#functions/routes.ts');
    const { bodyFor, hasBody, keyOf, seedRefs } = await import('#test/support/fixtures.ts');
    const { answerDefect, FUZZ_CALLERS, localJobRequests, routeRequests } = await import('#test/support/fuzz-arbitraries.ts');
    const [admin, rep] = FUZZ_CALLERS as [NonNullable<(typeof FUZZ_CALLERS)[0]>, NonNullable<(typeof FUZZ_CALLERS)[1]>];

    // The test's fixtures: every first-request write done, an account, a contact, a segment.
    for (const c of FUZZ_CALLERS) await call(c, 'GET', '/v1/tasks');
    const refs = await seedRefs(admin);
    for (const url of ['/v1/pipelines', '/v1/pool/rules', '/v1/reports/funnel']) await call(admin, 'GET', url);

    const runs = Math.max(1, Math.ceil(REQUESTS / (routes.length + 1)));
    progress(`seed ${seed}: ${runs} requests for each of ${routes.length} routes and the local job trigger`);
    const targets = [
      ...routes.map((route) => ({
        name: keyOf(route),
        requests: fc.sample(routeRequests(route, hasBody(route) ? (bodyFor(route)(refs) as Record<string, unknown>) : {}, FUZZ_CALLERS), { seed, numRuns: runs }),
        replay: `-t '^fuzzing every route ${keyOf(route).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:'`,
      })),
      // The test runs this one three times as often: its first `runs` values are the same.
      { name: 'POST /_local/jobs/{job}', requests: fc.sample(localJobRequests(rep), { seed, numRuns: runs }), replay: "-t 'local-only routes'" },
    ];

    let sent = 0;
    let fiveXx = 0;
    let bad = 0;
    const failures = new Map<string, { count: number; first: string; replay: string }>();
    const started = Date.now();
    for (const [i, target] of targets.entries()) {
      let next = 0;
      const worker = async () => {
        while (next < target.requests.length) {
          const req = target.requests[next++]!;
          const res = await call(req.who, req.method, req.url, undefined, { headers: req.headers, ...(req.raw !== undefined ? { raw: req.raw } : {}) });
          sent++;
          const defect = answerDefect(res);
          if (!defect) continue;
          if (res.status >= 500) fiveXx++;
          else bad++;
          const f = failures.get(target.name) ?? { count: 0, first: '', replay: target.replay };
          if (!f.count) f.first = `${req.method} ${req.url.slice(0, 160)} [${req.headers['content-type']}] ${req.raw?.slice(0, 80) ?? ''} → ${defect}: ${res.body.slice(0, 200)}`;
          f.count++;
          failures.set(target.name, f);
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      if ((i + 1) % 25 === 0) progress(`${i + 1} of ${targets.length} routes, ${sent} requests, ${fiveXx} 5xx, ${Math.round((Date.now() - started) / 1000)} s`);
    }

    figures['fuzz.requests'] = sent;
    figures['fuzz.5xx'] = fiveXx;
    figures['fuzz.bad_answers'] = bad;
    notes.push(
      `fuzz: seed ${seed}, ${sent} requests (${runs} per route) over ${routes.length} routes and POST /_local/jobs/{job} in ${Math.round((Date.now() - started) / 1000)} s: ` +
        `${fiveXx} 5xx, ${bad} 4xx answers that are not problem+json with a code.`,
    );
    for (const [route, f] of failures) {
      notes.push(`fuzz: ${route}: ${f.count} defects; first: ${f.first}`);
      notes.push(`fuzz:   replay: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npx vitest run test/contract/fuzz.test.ts ${f.replay}`);
    }
  } catch (err) {
    notes.push(`fuzz: no figure (seed ${seed}): ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `FUZZ_REQUESTS=2000 npx tsx bench/fuzz.ts`: this part alone, on its own DynamoDB Local. */
if (isEntry(import.meta.url)) runStandalone('fuzz', fuzzScenarios);
