/**
 * Opt-in: `TEST_COST_REPORT=<file> npx vitest run …` appends one JSON line per test file (its
 * worker's CPU time and the DynamoDB requests it sent, by operation) and one for DynamoDB Local's
 * JVM (its CPU time over the run). CPU time and request counts, unlike wall time, hold on a busy
 * machine: what to compare before and after a change that should make the suite cheaper.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const reportFile = () => process.env.TEST_COST_REPORT;

/** Seconds of CPU a process has used (Linux /proc: user + system, in clock ticks of 1/100 s). */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

export function reportLine(line: Record<string, unknown>): void {
  const file = reportFile();
  if (file) appendFileSync(file, `${JSON.stringify(line)}\n`);
}

/** Counts the file's DynamoDB requests by operation (transactions by item count too); reports them with the worker's CPU. */
export function trackFileCost(client: DynamoDBDocumentClient, file: string): (() => void) | undefined {
  if (!reportFile()) return undefined;
  const requests: Record<string, number> = {};
  let items = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName ?? '?').replace(/Command$/, '');
      requests[op] = (requests[op] ?? 0) + 1;
      const transact = (args.input as { TransactItems?: unknown[] }).TransactItems;
      if (transact) items += transact.length;
      return next(args);
    },
    { step: 'initialize', name: 'costReport' },
  );
  const start = process.cpuUsage();
  return () => {
    const cpu = process.cpuUsage(start);
    const total = Object.values(requests).reduce((a, b) => a + b, 0);
    reportLine({
      file,
      workerCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
      processCpuSeconds: +((process.cpuUsage().user + process.cpuUsage().system) / 1e6).toFixed(2),
      requests: total,
      transactionItems: items,
      byOperation: requests,
    });
  };
}
