/**
 * The local stand-in for EventBridge Scheduler: fires each job of the schedule table at
 * its cron times (UTC), in this process. A run that is still going when its next time
 * comes is not overlapped: that firing is skipped (in the cloud each job has a reserved
 * concurrency of 1, so the same holds there), and the next one goes ahead as usual.
 */
import { Cron } from 'croner';

export interface ScheduledJob {
  name: string;
  /** Five fields (minute hour day-of-month month day-of-week), UTC; six with leading seconds also work. */
  cron: string;
}

/** Runs one job once, to completion. `firedAt` is the moment the schedule fired. */
export type RunJob = (name: string, firedAt: Date) => Promise<unknown>;

export interface SchedulerHooks {
  /** A run threw (the scheduler keeps going). Default: logged to stderr. */
  onError?: (name: string, err: unknown) => void;
  /** A firing was skipped because the previous run of the same job was still going. */
  onSkip?: (name: string, firedAt: Date) => void;
}

export interface Scheduler {
  /** The next time each job fires (null when it never will). */
  nextRuns(): Record<string, Date | null>;
  /** Runs in progress, by job name. */
  running(): string[];
  /** Fires no more jobs; resolves once the runs in progress have finished. Safe to call twice. */
  stop(): Promise<void>;
}

export function startScheduler(
  schedules: readonly ScheduledJob[],
  run: RunJob,
  hooks: SchedulerHooks = {},
): Scheduler {
  const onError =
    hooks.onError ??
    ((name: string, err: unknown) => process.stderr.write(`scheduler: job ${name} failed: ${errorText(err)}\n`));
  const inFlight = new Map<string, Promise<void>>();
  let stopped = false;

  const names = new Set<string>();
  for (const s of schedules) {
    if (names.has(s.name)) throw new Error(`scheduler: job ${s.name} is scheduled twice`);
    names.add(s.name);
  }

  const fire = (name: string) => {
    if (stopped) return;
    const firedAt = new Date();
    if (inFlight.has(name)) {
      hooks.onSkip?.(name, firedAt);
      return;
    }
    const done = (async () => {
      try {
        await run(name, firedAt);
      } catch (err) {
        onError(name, err);
      }
    })().finally(() => inFlight.delete(name));
    inFlight.set(name, done);
  };

  // Validate every expression before starting any timer, so a bad entry starts nothing.
  const patterns = schedules.map((s) => ({ ...s, cron: s.cron.trim() }));
  for (const s of patterns) {
    try {
      new Cron(s.cron, { timezone: 'Etc/UTC', mode: '5-or-6-parts', paused: true }).stop();
    } catch (err) {
      throw new Error(`scheduler: bad cron for ${s.name} (${JSON.stringify(s.cron)}): ${errorText(err)}`);
    }
  }
  const jobs = patterns.map((s) => ({
    name: s.name,
    cron: new Cron(s.cron, { timezone: 'Etc/UTC', mode: '5-or-6-parts' }, () => fire(s.name)),
  }));

  return {
    nextRuns: () => Object.fromEntries(jobs.map((j) => [j.name, stopped ? null : j.cron.nextRun()])),
    running: () => [...inFlight.keys()],
    async stop() {
      stopped = true;
      for (const j of jobs) j.cron.stop();
      await Promise.all(inFlight.values());
    },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
