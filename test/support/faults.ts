/**
 * Fault injection for tests and the bench (issue 11 point 3). An SDK middleware in the client's
 * own middleware stack, inside the retry middleware (step `deserialize`, lowest priority, so the
 * SDK's retry strategy runs around it exactly as in the cloud): on the Nth matching attempt it
 * answers, instead of sending the request, the HTTP answer AWS gives for the fault, which the
 * SDK's own deserializer turns into its real exception class (a timeout is thrown, as the Node
 * HTTP handler throws it). Every attempt that is not faulted goes through untouched: DynamoDB
 * Local serves it. For EventBridge, which has no local emulator, `fakeEventBridge` answers the
 * attempts that are not faulted at the same point (the edge adapter's request shape is real).
 */
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { HttpResponse } from '@smithy/core/transport';
import type { EventBridgeClient, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { db } from '#domain/table/client.ts';

export const FAULT_KINDS = ['throughput', 'throttling', 'conflict', 'internal', 'timeout'] as const;
/**
 * - `throughput`: ProvisionedThroughputExceededException (400; the SDK retries it as throttling)
 * - `throttling`: ThrottlingException (400; retried as throttling)
 * - `conflict`: TransactionCanceledException, every reason `TransactionConflict` (TransactWriteItems only; not retried by the SDK)
 * - `internal`: InternalServerError (500; retried as transient)
 * - `timeout`: the request timed out before an answer (TimeoutError; retried as transient)
 */
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultPlan {
  kind: FaultKind;
  /** The first faulted attempt, counted over matching attempts from when the plan is armed (1-based). */
  at: number;
  /** How many consecutive matching attempts fail from `at` on (default: every one after it, so the SDK's retries run out). */
  times?: number;
  /** Only these operations count and fail (`TransactWriteItems`, `PutItem`, `PutEvents`…); default: every one the kind applies to. */
  operations?: string[];
}

/** Operations a kind can hit: a transaction conflict only comes from a transaction. */
const APPLIES: Partial<Record<FaultKind, string[]>> = { conflict: ['TransactWriteItems'] };

type Stack = { middlewareStack: { add: (mw: any, opts: any) => void; remove: (name: string) => boolean } };

export interface FaultInjector {
  arm(plan: FaultPlan): void;
  disarm(): void;
  /** Matching attempts seen since the plan was armed (or since `countCalls`), faulted or not. */
  readonly calls: number;
  /** Attempts answered with a fault since arming. */
  readonly injected: number;
  /** Starts counting attempts without faulting any (a dry run that finds how many calls a request makes). */
  countCalls(operations?: string[]): void;
  /** Operation names of the attempts seen since arming or counting, in order. */
  readonly log: string[];
}

const MIDDLEWARE = 'faultInjection';

/**
 * Installs the injector on an SDK client (once per client). `serve` answers the attempts that
 * are not faulted when the client has nowhere to send them (EventBridge); without it they go on.
 */
export function injectFaults(client: Stack, service: 'dynamodb' | 'eventbridge', serve?: (operation: string, request: any) => Promise<any>): FaultInjector {
  let plan: FaultPlan | undefined;
  let counting: string[] | true | undefined;
  let calls = 0;
  let injected = 0;
  let log: string[] = [];

  const matches = (op: string): boolean => {
    if (plan) {
      const only = plan.operations ?? APPLIES[plan.kind];
      return !only || only.includes(op);
    }
    if (counting) return counting === true || counting.includes(op);
    return false;
  };

  client.middlewareStack.remove(MIDDLEWARE);
  client.middlewareStack.add(
    (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: { request: any }) => {
      const op = (context.commandName ?? '').replace(/Command$/, '');
      if (matches(op)) {
        calls++;
        log.push(op);
        if (plan && calls >= plan.at && calls < plan.at + (plan.times ?? Infinity)) {
          injected++;
          return faultAnswer(service, plan.kind, args.request);
        }
      }
      return serve ? { response: await serve(op, args.request) } : next(args);
    },
    { step: 'deserialize', priority: 'low', name: MIDDLEWARE, override: true },
  );

  return {
    arm(p) {
      plan = p;
      counting = undefined;
      calls = 0;
      injected = 0;
      log = [];
    },
    disarm() {
      plan = undefined;
      counting = undefined;
    },
    countCalls(operations) {
      plan = undefined;
      counting = operations ?? true;
      calls = 0;
      injected = 0;
      log = [];
    },
    get calls() {
      return calls;
    },
    get injected() {
      return injected;
    },
    get log() {
      return log;
    },
  };
}

/** AWS's answer to a faulted attempt, as its JSON protocols send it; a timeout throws as the HTTP handler does. */
function faultAnswer(service: 'dynamodb' | 'eventbridge', kind: FaultKind, request: { body?: unknown }): { response: HttpResponse } {
  if (kind === 'timeout') {
    const err = new Error('Connection timed out after 1000 ms (injected)');
    err.name = 'TimeoutError';
    throw err;
  }
  const ns = service === 'dynamodb' ? 'com.amazonaws.dynamodb.v20120810' : 'com.amazonaws.eventbridge';
  const answers: Record<Exclude<FaultKind, 'timeout'>, [number, string, Record<string, unknown>]> = {
    throughput: [400, `${ns}#ProvisionedThroughputExceededException`, { message: 'The level of configured provisioned throughput for the table was exceeded (injected).' }],
    throttling: [400, 'com.amazon.coral.availability#ThrottlingException', { message: 'Rate of requests exceeds the allowed throughput (injected).' }],
    internal: [500, `${ns}#InternalServerError`, { message: 'Internal server error (injected).' }],
    conflict: [
      400,
      `${ns}#TransactionCanceledException`,
      {
        Message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict] (injected)',
        CancellationReasons: transactItems(request).map(() => ({ Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' })),
      },
    ],
  };
  const [statusCode, type, body] = answers[kind];
  return { response: jsonResponse(statusCode, { __type: type, ...body }, type.split('#')[1]!) };
}

function transactItems(request: { body?: unknown }): unknown[] {
  try {
    const parsed = JSON.parse(bodyText(request.body)) as { TransactItems?: unknown[] };
    return parsed.TransactItems ?? [{}];
  } catch {
    return [{}];
  }
}

/** A serialized request's body: bytes or a string, as the protocol left it. */
function bodyText(body: unknown): string {
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  return typeof body === 'string' ? body : '{}';
}

function jsonResponse(statusCode: number, body: unknown, errorType?: string): HttpResponse {
  return new HttpResponse({
    statusCode,
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amzn-requestid': 'injected',
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    },
    body: new TextEncoder().encode(JSON.stringify(body)),
  });
}

let dbInjector: FaultInjector | undefined;

/**
 * The injector on the product's one DynamoDB client (`db`). The SDK's retry strategy stays the
 * standard one (same attempts, same classification, same retry quota) with its backoff shortened
 * to a millisecond, so a test never waits on the cloud's delays.
 */
export function dynamoFaults(): FaultInjector {
  if (!dbInjector) {
    const config = db.config as unknown as { retryStrategy: () => Promise<unknown> };
    const quick = new ConfiguredRetryStrategy(3, 1);
    config.retryStrategy = async () => quick;
    dbInjector = injectFaults(db as unknown as Stack, 'dynamodb');
  }
  return dbInjector;
}

/** What the fake EventBridge received: every entry of every PutEvents it answered as put. */
export interface FakeBus {
  client: EventBridgeClient;
  faults: FaultInjector;
  received: PutEventsRequestEntry[];
  /** Makes the entries at these positions of the next PutEvents fail (FailedEntryCount), as EventBridge may. */
  failEntries(positions: number[]): void;
}

/**
 * An EventBridge client whose attempts never leave the process: PutEvents is answered like
 * EventBridge answers it (every entry an EventId, or an ErrorCode for the ones `failEntries` names),
 * and faults are injected as for DynamoDB.
 */
export async function fakeEventBridge(): Promise<FakeBus> {
  const { EventBridgeClient } = await import('@aws-sdk/client-eventbridge');
  const client = new EventBridgeClient({
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    retryStrategy: new ConfiguredRetryStrategy(3, 1),
  });
  const received: PutEventsRequestEntry[] = [];
  let failNext: number[] = [];
  let seq = 0;
  const faults = injectFaults(client as unknown as Stack, 'eventbridge', async (operation, request) => {
    if (operation !== 'PutEvents') throw new Error(`the fake EventBridge answers PutEvents only, got ${operation}`);
    const { Entries = [] } = JSON.parse(bodyText(request.body)) as { Entries?: PutEventsRequestEntry[] };
    const failing = new Set(failNext);
    failNext = [];
    const answers = Entries.map((entry, i) => {
      if (failing.has(i)) return { ErrorCode: 'InternalFailure', ErrorMessage: 'injected' };
      received.push(entry);
      return { EventId: `fake-${++seq}` };
    });
    return jsonResponse(200, { FailedEntryCount: failing.size, Entries: answers });
  });
  return {
    client,
    faults,
    received,
    failEntries(positions) {
      failNext = positions;
    },
  };
}
