/**
 * One injected fault per write route (issue 11 point 3), fixed choices: the kinds in turn, each
 * at the route's last write call and lasting (so the SDK's retries run out), except every third
 * route whose fault lasts one attempt (so the SDK's retry wins). The public routes a mailed token
 * opens have their own file (test/faults/public-tokens.test.ts). The long run, every kind at
 * every call of every route, is bench/faults.ts.
 */
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, type FaultKind } from '#test/support/faults.ts';
import { faultableRoutes, callsFor, faulted, keyOf, planAt, prepareTwins, reference, RESUMABLE, TOKEN_ROUTES, WRITE_OPS } from '#test/faults/support.ts';

export function writeRouteFaults(part: number, parts: number): void {
  describe(`injected faults, write routes (part ${part + 1} of ${parts})`, () => {
    faultableRoutes((route) => !TOKEN_ROUTES.has(keyOf(route))).forEach((route, i) => {
      if (i % parts !== part) return;
      const preferred: FaultKind = FAULT_KINDS[i % FAULT_KINDS.length]!;
      const once = i % 3 === 2;
      it(`${keyOf(route)}: ${preferred}${once ? ' once' : ''} at its last write → the twin's answer or 503 unavailable, and all or nothing`, async () => {
        const { twin, main: p } = await prepareTwins(route, `faults-${i}`);
        const ref = await reference(twin);
        // A route that calls no DynamoDB (an upload URL is presigned, nothing stored) has nothing to fault.
        if (ref.ops.length === 0) return expect(ref.shape).toEqual([]);
        // A transaction conflict only hits a transaction: a route without one gets a throttle instead.
        const kind = callsFor(ref, preferred).length ? preferred : 'throughput';
        const writes = callsFor(ref, kind).filter((c) => WRITE_OPS.includes(ref.ops[c]!));
        const target = writes.at(-1) ?? callsFor(ref, kind).at(-1)!;
        const outcome = await faulted(p, ref, planAt(ref, target, kind, once ? 1 : undefined), `${kind} at call ${target + 1} (${ref.ops[target]})`, RESUMABLE.has(keyOf(route)));
        expect(outcome.injected, outcome.label).toBeGreaterThan(0);
        expect(outcome.problems).toEqual([]);
      });
    });
  });
}
