/**
 * Bounded concurrency: a burst of table calls from one piece of work (a relay's marks, an import's
 * rows) queues every other caller's calls behind it, in the SDK's socket pool and in the table.
 */

/** Runs `work` over `list`, `width` at a time; the first failure is thrown once nothing is in flight any more. */
export async function inParallel<T>(list: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.min(width, list.length) }, async () => {
      while (!failure && next < list.length) {
        try {
          await work(list[next++]!);
        } catch (err) {
          failure ??= { err };
        }
      }
    }),
  );
  if (failure) throw failure.err;
}
