import { Cron } from 'croner';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { schedules } from '#events/schedules.ts';
import { startScheduler, type Scheduler } from '#local/scheduler.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

let scheduler: Scheduler | undefined;
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  vi.useRealTimers();
});

describe('startScheduler (fake clock)', () => {
  it('fires a five-field cron at its UTC times, passing the firing time', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-01T00:00:30Z') });
    const runs: { name: string; at: string }[] = [];
    scheduler = startScheduler([{ name: 'sweep', cron: '*/5 * * * *' }], async (name, at) => {
      runs.push({ name, at: at.toISOString() });
    });
    expect(scheduler.nextRuns().sweep?.toISOString()).toBe('2026-03-01T00:05:00.000Z');

    await vi.advanceTimersByTimeAsync(4 * 60_000 + 29_000); // 00:04:59
    expect(runs).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000); // 00:05:01
    expect(runs).toEqual([{ name: 'sweep', at: '2026-03-01T00:05:00.000Z' }]);
    expect(scheduler.nextRuns().sweep?.toISOString()).toBe('2026-03-01T00:10:00.000Z');

    await vi.advanceTimersByTimeAsync(10 * 60_000); // 00:15:01
    expect(runs.map((r) => r.at)).toEqual([
      '2026-03-01T00:05:00.000Z',
      '2026-03-01T00:10:00.000Z',
      '2026-03-01T00:15:00.000Z',
    ]);
  });

  it('reads the cron in UTC, whatever the process time zone', () => {
    vi.useFakeTimers({ now: new Date('2026-03-01T23:30:00Z') });
    scheduler = startScheduler([{ name: 'nightly', cron: '0 2 * * *' }], async () => {});
    expect(scheduler.nextRuns().nightly?.toISOString()).toBe('2026-03-02T02:00:00.000Z');
  });

  it('skips a firing while the previous run of the same job is still going, but not other jobs', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-01T00:00:00Z') });
    const slow = deferred();
    const started: string[] = [];
    const skipped: string[] = [];
    scheduler = startScheduler(
      [
        { name: 'slow', cron: '* * * * *' },
        { name: 'fast', cron: '* * * * *' },
      ],
      async (name, at) => {
        started.push(`${name}@${at.toISOString().slice(11, 16)}`);
        if (name === 'slow' && started.filter((s) => s.startsWith('slow')).length === 1) await slow.promise;
      },
      { onSkip: (name, at) => skipped.push(`${name}@${at.toISOString().slice(11, 16)}`) },
    );

    await vi.advanceTimersByTimeAsync(3 * 60_000 + 1_000); // fires at 00:01, 00:02, 00:03
    expect(started.filter((s) => s.startsWith('slow'))).toEqual(['slow@00:01']);
    expect(started.filter((s) => s.startsWith('fast'))).toEqual(['fast@00:01', 'fast@00:02', 'fast@00:03']);
    expect(skipped).toEqual(['slow@00:02', 'slow@00:03']);
    expect(scheduler.running()).toEqual(['slow']);

    slow.resolve();
    await vi.advanceTimersByTimeAsync(60_000); // 00:04
    expect(started.filter((s) => s.startsWith('slow'))).toEqual(['slow@00:01', 'slow@00:04']);
    expect(scheduler.running()).toEqual([]);
  });

  it('keeps going after a run fails, and reports the error', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-01T00:00:00Z') });
    const errors: string[] = [];
    let calls = 0;
    scheduler = startScheduler(
      [{ name: 'flaky', cron: '* * * * *' }],
      async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
      { onError: (name, err) => errors.push(`${name}: ${(err as Error).message}`) },
    );
    await vi.advanceTimersByTimeAsync(2 * 60_000 + 1_000);
    expect(calls).toBe(2);
    expect(errors).toEqual(['flaky: boom']);
  });

  it('stop() fires nothing more and waits for the run in progress', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-01T00:00:00Z') });
    const run = deferred();
    let calls = 0;
    let finished = false;
    const s = startScheduler([{ name: 'job', cron: '* * * * *' }], async () => {
      calls++;
      await run.promise;
      finished = true;
    });
    await vi.advanceTimersByTimeAsync(61_000);
    expect(calls).toBe(1);

    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(10);
    expect(stopped).toBe(false);
    run.resolve();
    await stopping;
    expect(finished).toBe(true);

    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(calls).toBe(1);
    expect(s.nextRuns().job).toBeNull();
  });

  it('refuses a bad cron or a job listed twice, and starts nothing then', () => {
    const run = vi.fn(async () => {});
    expect(() => startScheduler([{ name: 'ok', cron: '* * * * *' }, { name: 'bad', cron: '61 * * * *' }], run)).toThrow(/bad cron for bad/);
    expect(() => startScheduler([{ name: 'a', cron: '* * * * *' }, { name: 'a', cron: '*/2 * * * *' }], run)).toThrow(/twice/);
  });
});

describe('startScheduler (real clock)', () => {
  it('fires a six-field every-second cron on the real clock', async () => {
    const fired = deferred();
    const at: Date[] = [];
    scheduler = startScheduler([{ name: 'tick', cron: '* * * * * *' }], async (_name, firedAt) => {
      at.push(firedAt);
      fired.resolve();
    });
    const t0 = Date.now();
    await fired.promise;
    expect(Date.now() - t0).toBeLessThan(5_000); // due within 1 s; generous for a loaded machine
    expect(at).toHaveLength(1);
  });
});

describe('the schedule table', () => {
  it('every schedule is a five-field cron the scheduler accepts', () => {
    for (const s of schedules) {
      expect(s.cron.trim().split(/\s+/), s.name).toHaveLength(5);
      expect(() => new Cron(s.cron, { timezone: 'Etc/UTC', mode: '5-part', paused: true }).stop(), s.name).not.toThrow();
    }
    const started = startScheduler(schedules, async () => {});
    expect(Object.keys(started.nextRuns()).sort()).toEqual(schedules.map((s) => s.name).sort());
    return started.stop();
  });
});
