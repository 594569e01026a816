/**
 * Error mapping, once for every HTTP function: a DomainError becomes problem+json with
 * its status and stable `code`; middy's early timeout is a 503 `timeout`; an AWS service that
 * stayed throttled, failing or unreachable through the SDK's retries is a 503 `unavailable`;
 * anything else is logged and answered as a generic 500.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type middy from '@middy/core';
import { isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError } from '#domain/errors.ts';
import { logger } from '#functions/middleware/logger.ts';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problemResponse(err: DomainError): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: err.status,
    headers: { 'content-type': 'application/problem+json' },
    body: JSON.stringify({
      // Extras first: a use case's extra field can never replace a standard member (a campaign's
      // `status` once turned a 409's `status` into "sent").
      ...err.extra,
      type: `https://crm.example.com/problems/${err.code.replaceAll('_', '-')}`,
      title: TITLES[err.status] ?? 'Error',
      status: err.status,
      detail: err.message,
      code: err.code,
      ...(err.errors ? { errors: err.errors } : {}),
    }),
  };
}

/**
 * What an error thrown by a request answers: a DomainError as it is; middy's early timeout and an
 * AWS service that stayed unavailable through the SDK's retries as 503s with `Retry-After`; anything
 * else, logged, as a generic 500. The JSON and the public (HTML) functions both answer this.
 */
export function problemOf(err: unknown, routeKey: string): { problem: DomainError; retryAfter?: string } {
  if (err instanceof DomainError) return { problem: err };
  if (isMiddyTimeout(err)) {
    // middy answers shortly before the function's time runs out. The change may still land:
    // a retry with the same Idempotency-Key then answers what it did, without doing it twice.
    logger().warn('request timed out', { routeKey });
    return { problem: new DomainError(503, 'timeout', 'The request took too long to finish; retry it with the same Idempotency-Key.'), retryAfter: '1' };
  }
  if (isServiceUnavailable(err)) {
    // Throttled, failing or unreachable after the SDK's retries: the request's change is one
    // request or one transaction, so nothing of it landed, and retrying it is safe.
    logger().warn('AWS service unavailable after the SDK retries', { error: err as Error, routeKey });
    return { problem: new DomainError(503, 'unavailable', 'A service this request needs is busy or unavailable; retry it shortly.'), retryAfter: '1' };
  }
  logger().error('unhandled error', { error: err as Error, routeKey });
  return { problem: new DomainError(500, 'internal_error', 'Something went wrong on our side.') };
}

export function problemJson(): middy.MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    onError: (request) => {
      const { problem, retryAfter } = problemOf(request.error, request.event.routeKey);
      const response = problemResponse(problem);
      request.response = retryAfter ? { ...response, headers: { ...response.headers, 'retry-after': retryAfter } } : response;
    },
  };
}

/** middy's own early timeout (`timeoutEarlyResponse`), told apart from an SDK call's timeout by its cause. */
function isMiddyTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError' && (err.cause as { package?: string } | undefined)?.package === '@middy/core';
}

/**
 * An AWS call the SDK gave up on for the service's sake, not the request's: throttling, a 5xx, a
 * timeout or a dropped connection (the SDK's own classification, so it matches what it retried),
 * or a transaction canceled only by contention (no condition of ours failed).
 */
export function isServiceUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof TransactionCanceledException) {
    return (err.CancellationReasons ?? []).every((r) => !r.Code || ['None', 'TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded'].includes(r.Code));
  }
  const sdkError = err as Parameters<typeof isThrottlingError>[0];
  return isThrottlingError(sdkError) || isTransientError(sdkError) || isServerError(sdkError);
}
