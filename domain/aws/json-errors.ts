/**
 * The error answers of AWS's JSON protocols (restJson1: SES v2; awsJson1_1: KMS), read as the SDK
 * reads them: the code by the SDK's own loader of that protocol (the `x-amzn-ErrorType` header or
 * the body's `code`/`__type`, in the protocol's order, cut at `:` and after `#`), the message in the
 * body's `message` or `Message`.
 */
import { loadJsonRpcErrorCode, loadRestJsonErrorCode } from '@smithy/core/protocols';
import type { AwsService } from '#domain/aws/signed-fetch.ts';

type LoadErrorCode = (output: { statusCode: number; headers: Record<string, string> }, data: unknown) => string | undefined;

function jsonError(res: Response, body: string, loadCode: LoadErrorCode): { code?: string; message?: string } {
  let data: { message?: unknown; Message?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) data = parsed;
  } catch {
    // not JSON (a proxy's page): the header alone, or the status, names it
  }
  const message = typeof data.message === 'string' ? data.message : typeof data.Message === 'string' ? data.Message : undefined;
  return { code: loadCode({ statusCode: res.status, headers: Object.fromEntries(res.headers) }, data), message };
}

// Arrow functions, not a factory's results: a call at load would keep this module in every bundle that imports its importer.
export const restJsonErrorOf: AwsService['errorOf'] = (res, body) => jsonError(res, body, loadRestJsonErrorCode as LoadErrorCode);
export const jsonRpcErrorOf: AwsService['errorOf'] = (res, body) => jsonError(res, body, loadJsonRpcErrorCode as LoadErrorCode);
