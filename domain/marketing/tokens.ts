/**
 * Signed opaque tokens for the public routes (`/u/…`, `/t/o/…`, `/t/c/…`, later `/s/…`):
 * a compact payload naming the tenant, the token's kind and its ids, and an HMAC-SHA256
 * tag (128 bits) over it. Anything malformed, tampered with or of another kind verifies
 * to `undefined`, which the routes answer with 404.
 *
 * The key is one per deployment: in the cloud a Secrets Manager secret the state stack creates,
 * read once per container as this module loads (`MARKETING_TOKEN_SECRET_ARN`,
 * domain/secrets/runtime-secret.ts); `MARKETING_TOKEN_SECRET` may give the value itself; locally a key file in `$CRM_DATA_DIR/keys/` created on
 * first use, like the JWT keys of local/auth.ts, so links in the local mailbox survive a restart.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { localKeyText } from '#domain/secrets/local-key.ts';
import { secretFromEnvironment } from '#domain/secrets/runtime-secret.ts';

export type TokenKind = 'unsubscribe' | 'open' | 'click' | 'survey' | 'upload' | 'export';
const KIND_CODE: Record<TokenKind, string> = { unsubscribe: 'u', open: 'o', click: 'c', survey: 's', upload: 'p', export: 'x' };

export interface TokenClaims {
  tenantId: string;
  kind: TokenKind;
  /** e.g. [campaignId, recipientId] or [campaignId, recipientId, linkIndex]. */
  ids: string[];
}

const SEPARATOR = '\u001f';
const TAG_BYTES = 16;

let cachedKey: Buffer | undefined;
const fromSecretsManager = await secretFromEnvironment('MARKETING_TOKEN_SECRET');

function key(): Buffer {
  if (cachedKey) return cachedKey;
  const fromEnv = fromSecretsManager ?? process.env.MARKETING_TOKEN_SECRET;
  if (fromEnv) return (cachedKey = Buffer.from(fromEnv, 'utf8'));
  if (process.env.AWS_LAMBDA_FUNCTION_NAME) throw new Error('MARKETING_TOKEN_SECRET_ARN is not set');
  return (cachedKey = Buffer.from(localKeyText('marketing-token'), 'utf8'));
}

const mac = (payload: string) => createHmac('sha256', key()).update(payload).digest().subarray(0, TAG_BYTES);

export function signToken(claims: TokenClaims): string {
  const payload = Buffer.from([claims.tenantId, KIND_CODE[claims.kind], ...claims.ids].join(SEPARATOR), 'utf8').toString('base64url');
  return `${payload}.${mac(payload).toString('base64url')}`;
}

/** The tenant a genuine token of any kind names, else undefined (never throws on input). */
export async function tokenTenant(token: string): Promise<string | undefined> {
  for (const kind of Object.keys(KIND_CODE) as TokenKind[]) {
    const claims = verifyToken(token, kind);
    if (claims) return claims.tenantId;
  }
  return undefined;
}

/** The claims of a genuine token of this kind, else undefined (never throws on input). */
export function verifyToken(token: string, kind: TokenKind): TokenClaims | undefined {
  if (typeof token !== 'string' || token.length > 1024) return undefined;
  const [payload, tag, extra] = token.split('.');
  if (!payload || !tag || extra !== undefined) return undefined;
  const given = Buffer.from(tag, 'base64url');
  // Only the canonical base64url spelling of our tag is ours.
  if (given.toString('base64url') !== tag || given.length !== TAG_BYTES) return undefined;
  if (!timingSafeEqual(given, mac(payload))) return undefined;
  const parts = Buffer.from(payload, 'base64url').toString('utf8').split(SEPARATOR);
  const [tenantId, code, ...ids] = parts;
  if (!tenantId || code !== KIND_CODE[kind] || ids.some((id) => !id)) return undefined;
  return { tenantId, kind, ids };
}
