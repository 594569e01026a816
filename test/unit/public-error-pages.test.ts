/**
 * The HTML error pages of the public routes (functions/middleware/public-function.ts): a busy AWS
 * service is a 503 page that says to try again (with Retry-After), not "Something went wrong".
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DomainError } from '#domain/errors.ts';
import { publicFunction } from '#functions/middleware/public-function.ts';

/** Thrown as the SDK throws a throttle that outlasted its retries. */
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 3 } });

function pageFor(failure: () => Error) {
  const handler = publicFunction({
    'GET /t/x/{token}': {
      summary: 'A test page',
      operationId: 'testPage',
      answers: 'page',
      tenantOf: async () => undefined,
      run: async () => {
        throw failure();
      },
    },
  });
  const event = {
    routeKey: 'GET /t/x/{token}',
    rawPath: '/t/x/abc',
    pathParameters: { token: 'abc' },
    headers: { accept: 'text/html' },
    requestContext: { http: { method: 'GET', sourceIp: '203.0.113.9' } },
  } as unknown as APIGatewayProxyEventV2;
  return handler(event, {} as Context) as Promise<APIGatewayProxyStructuredResultV2>;
}

describe('public error pages', () => {
  it('a service still busy after the retries: 503, Retry-After, a page that says to try again', async () => {
    const res = await pageFor(throttled);
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['retry-after']).toBe('1');
    expect(res.headers?.['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('<title>Please try again in a moment</title>');
  });

  it('a bad link and a refusal keep their own titles', async () => {
    expect((await pageFor(() => new DomainError(404, 'not_found', 'No such link.'))).body).toContain('<title>This link is not valid</title>');
    expect((await pageFor(() => new DomainError(409, 'conflict', 'Already done.'))).body).toContain('<title>This could not be done</title>');
  });
});
