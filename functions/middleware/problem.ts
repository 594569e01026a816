/**
 * Error mapping, once for every HTTP function: a DomainError becomes problem+json with
 * its status and stable `code`; middy's early timeout is a 503 `timeout`; anything else is
 * logged and answered as a generic 500.
 */
import type middy from '@middy/core';
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

export function problemJson(): middy.MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    onError: (request) => {
      const err = request.error;
      if (err instanceof DomainError) {
        request.response = problemResponse(err);
        return;
      }
      if (err instanceof Error && err.name === 'TimeoutError') {
        // middy answers shortly before the function's time runs out. The change may still land:
        // a retry with the same Idempotency-Key then answers what it did, without doing it twice.
        logger.warn('request timed out', { routeKey: request.event.routeKey });
        const timedOut = problemResponse(new DomainError(503, 'timeout', 'The request took too long to finish; retry it with the same Idempotency-Key.'));
        request.response = { ...timedOut, headers: { ...timedOut.headers, 'retry-after': '1' } };
        return;
      }
      logger.error('unhandled error', { error: err as Error, routeKey: request.event.routeKey });
      request.response = problemResponse(new DomainError(500, 'internal_error', 'Something went wrong on our side.'));
    },
  };
}
