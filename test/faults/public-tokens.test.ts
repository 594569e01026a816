/**
 * Injected faults on the public routes a mailed token opens (issue 11 point 3): the one-click
 * unsubscribe `POST /u/{token}` and the survey answer `POST /s/{token}`, each from a genuine mail
 * (test/faults/support.ts PUBLIC_CASES). Each is faulted at every write its fault-free twin makes
 * (a TransactionConflict and a timeout, lasting: the retries run out), and with a throttle once at
 * its last write (the SDK's retry wins): the twin's answer, 503 `unavailable` with Retry-After or a
 * contended 409, never a 500, and all of the effect or none (`faulted`). Every kind at every call
 * is the bench's (bench/faults.ts).
 */
import { describe, expect, it } from 'vitest';
import { routes } from '#functions/routes.ts';
import type { FaultKind } from '#test/support/faults.ts';
import { callsFor, faulted, keyOf, planAt, prepare, prepareTwins, reference, TOKEN_ROUTES, WRITE_OPS } from '#test/faults/support.ts';

describe('injected faults, public token routes', () => {
  for (const route of routes.filter((r) => TOKEN_ROUTES.has(keyOf(r)))) {
    it(`${keyOf(route)}: a fault at each write → the twin's answer or 503 unavailable, and all or nothing`, async () => {
      const slug = route.path.split('/')[1];
      const { twin, main } = await prepareTwins(route, `faults-${slug}-0`);
      const ref = await reference(twin);
      const writes = ref.ops.flatMap((op, i) => (WRITE_OPS.includes(op) ? [i] : []));
      expect(writes.length, `${keyOf(route)} writes`).toBeGreaterThan(0);
      // At each write: a transaction conflict (a transaction's only) and a timeout, lasting; then a throttle once at the last.
      const plans: { c: number; kind: FaultKind; times?: number }[] = writes.flatMap((c) =>
        (['conflict', 'timeout'] as const).filter((kind) => callsFor(ref, kind).includes(c)).map((kind) => ({ c, kind })),
      );
      plans.push({ c: writes.at(-1)!, kind: 'throttling', times: 1 });
      for (const [n, { c, kind, times }] of plans.entries()) {
        const p = n === 0 ? main : await prepare(route, `faults-${slug}-${n}`);
        const outcome = await faulted(p, ref, planAt(ref, c, kind, times), `${kind}${times ? ' once' : ''} at call ${c + 1} (${ref.ops[c]})`);
        expect(outcome.injected, outcome.label).toBeGreaterThan(0);
        expect(outcome.problems, outcome.label).toEqual([]);
      }
    });
  }
});
