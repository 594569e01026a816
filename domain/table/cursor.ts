/**
 * Pagination cursors: the DynamoDB LastEvaluatedKey, signed with HMAC-SHA256 and bound
 * to the tenant, the user and the query (route + filters). An edited cursor, or one
 * minted for another tenant, user or filter set, fails verification: `invalid_cursor`.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { invalidCursor } from '#domain/errors.ts';
import { secretFromEnvironment } from '#domain/secrets/runtime-secret.ts';

/** In the cloud, read from Secrets Manager once per container as this module loads (CURSOR_SECRET_ARN). */
const fromSecretsManager = await secretFromEnvironment('CURSOR_SECRET');

export interface CursorScope {
  tenantId: string;
  userId: string;
  /** The query's identity: route and filters, excluding limit and cursor (limit may change between pages). */
  query: string;
}

function secret(): string {
  const s = fromSecretsManager ?? process.env.CURSOR_SECRET;
  if (s) return s;
  if (process.env.AWS_LAMBDA_FUNCTION_NAME) throw new Error('CURSOR_SECRET_ARN is not set');
  return 'local-development-cursor-secret';
}

const scopeHash = (scope: CursorScope) =>
  createHash('sha256').update(JSON.stringify([scope.tenantId, scope.userId, scope.query])).digest('base64url').slice(0, 16);

function sign(payload: string): Buffer {
  return createHmac('sha256', secret()).update(payload).digest();
}

export function encodeCursor(scope: CursorScope, lastKey: Record<string, unknown>): string {
  const payload = Buffer.from(JSON.stringify({ s: scopeHash(scope), k: lastKey })).toString('base64url');
  return `${payload}.${sign(payload).toString('base64url')}`;
}

export function decodeCursor(scope: CursorScope, cursor: string): Record<string, unknown> {
  const [payload, mac, extra] = cursor.split('.');
  if (!payload || !mac || extra !== undefined) throw invalidCursor();
  const given = Buffer.from(mac, 'base64url');
  // Base64 has several spellings of the same bytes (spare low bits): only the canonical one is ours.
  if (given.toString('base64url') !== mac) throw invalidCursor();
  const expected = sign(payload);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  const body = parsed as { s?: unknown; k?: unknown };
  if (body.s !== scopeHash(scope) || typeof body.k !== 'object' || body.k === null) throw invalidCursor();
  return body.k as Record<string, unknown>;
}
