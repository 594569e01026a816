/**
 * Local stand-in for Cognito: it mints ID tokens and publishes the keys that check them.
 * Keys are an RS256 pair kept as JWK files in `<dataDir>/keys/`, created on first use, so
 * tokens minted by `npm run token` are accepted by `npm start` and survive restarts. The
 * local runtime checks tokens with the cloud's own Lambda authorizer, configured with these
 * keys instead of the user pool's (`localAuthorizerConfig`).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  SignJWT,
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  type CryptoKey,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
} from 'jose';
import type { Jwks } from 'aws-jwt-verify/jwk';
import { ROLES, type Role } from '#domain/identity.ts';
import type { AuthorizerConfig } from '#functions/auth/authorizer.ts';

/**
 * The local user pool. Shaped like a real pool id (`<region>_<id>`, in a region that does not
 * exist) because the authorizer's Cognito verifier derives the issuer from it, as in the cloud.
 */
export const LOCAL_USER_POOL_ID = 'xx-local-1_crm';
export const LOCAL_ISSUER = `https://cognito-idp.xx-local-1.amazonaws.com/${LOCAL_USER_POOL_ID}`;
export const LOCAL_AUDIENCE = 'local-crm-client';

const ALG = 'RS256';
const PRIVATE_FILE = 'private.jwk.json';
const JWKS_FILE = 'jwks.json';

function repoRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = parent;
  }
}

/** Where local state lives: `$CRM_DATA_DIR`, else `<repo>/.crm-local`. */
export function dataDir(): string {
  return process.env.CRM_DATA_DIR ?? path.join(repoRoot(), '.crm-local');
}

export interface LocalKeys {
  kid: string;
  /** Private RSA JWK (with kid, alg, use). Keep it out of logs. */
  privateJwk: JWK;
  /** The public half, as a JWKS document (what Cognito serves at `/.well-known/jwks.json`). */
  jwks: JSONWebKeySet;
  /** Imported signing key. */
  signingKey: CryptoKey;
}

const cache = new Map<string, Promise<LocalKeys>>();

/**
 * The key pair in `<dir>/keys/`, generated on first use. The private JWK file is the
 * single source of truth (the JWKS is derived from it), and it is published with
 * `link()`, which fails if the file exists: when two processes race, the first one
 * wins and the other reads the winner's key.
 */
export function loadOrCreateKeys(dir: string = dataDir()): Promise<LocalKeys> {
  const keysDir = path.resolve(dir, 'keys');
  let keys = cache.get(keysDir);
  if (!keys) {
    keys = loadOrCreate(keysDir);
    cache.set(keysDir, keys);
    keys.catch(() => cache.delete(keysDir));
  }
  return keys;
}

async function loadOrCreate(keysDir: string): Promise<LocalKeys> {
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  const privatePath = path.join(keysDir, PRIVATE_FILE);

  let privateJwk = await readJwk(privatePath);
  if (!privateJwk) {
    const { privateKey } = await generateKeyPair(ALG, { modulusLength: 2048, extractable: true });
    const jwk = await exportJWK(privateKey);
    const candidate: JWK = { ...jwk, kty: 'RSA', kid: await calculateJwkThumbprint(jwk), alg: ALG, use: 'sig' };
    const tmp = `${privatePath}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(tmp, JSON.stringify(candidate, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    try {
      await link(tmp, privatePath);
    } catch (err) {
      if (code(err) !== 'EEXIST') {
        // Filesystems without hard links: fall back to rename (last writer wins).
        if (code(err) === 'EPERM' || code(err) === 'ENOTSUP' || code(err) === 'EOPNOTSUPP') {
          if (!existsSync(privatePath)) await rename(tmp, privatePath);
        } else {
          throw err;
        }
      }
    } finally {
      await unlink(tmp).catch(() => {});
    }
    privateJwk = await readJwk(privatePath);
    if (!privateJwk) throw new Error(`could not create ${privatePath}`);
  }

  const kid = privateJwk.kid;
  if (!kid || privateJwk.kty !== 'RSA' || !privateJwk.n || !privateJwk.e || !privateJwk.d) {
    throw new Error(`${privatePath} is not an RSA private JWK with a kid; delete it to make a new one`);
  }
  const jwks: JSONWebKeySet = {
    keys: [{ kty: 'RSA', kid, alg: ALG, use: 'sig', n: privateJwk.n, e: privateJwk.e }],
  };
  await writeJwksIfChanged(path.join(keysDir, JWKS_FILE), jwks);
  const signingKey = (await importJWK({ ...privateJwk, alg: ALG }, ALG)) as CryptoKey;
  return { kid, privateJwk, jwks, signingKey };
}

async function readJwk(file: string): Promise<JWK | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as JWK;
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** The JWKS is a pure function of the private key, so concurrent writers agree; rename keeps readers safe. */
async function writeJwksIfChanged(file: string, jwks: JSONWebKeySet): Promise<void> {
  const text = JSON.stringify(jwks, null, 2) + '\n';
  const current = await readFile(file, 'utf8').catch(() => undefined);
  if (current === text) return;
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export interface MintOptions {
  tenant: string;
  user: string;
  /** One of ROLES; anything else throws. */
  role: Role | (string & {});
  team?: string;
  /** Lifetime in seconds; default 3600. Zero or negative mints an already expired token. */
  expiresInSeconds?: number;
}

/** A Cognito-shaped ID token for the local API. `dir` defaults to {@link dataDir}. */
export async function mintToken(opts: MintOptions, dir: string = dataDir()): Promise<string> {
  const { tenant, user, role, team, expiresInSeconds = 3600 } = opts;
  for (const [name, value] of [['tenant', tenant], ['user', user]] as const) {
    if (typeof value !== 'string' || value.trim() === '') throw new Error(`${name} must be a non-empty string`);
  }
  if (!(ROLES as readonly string[]).includes(role)) {
    throw new Error(`role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(role)})`);
  }
  if (team !== undefined && (typeof team !== 'string' || team.trim() === '')) {
    throw new Error('team, when given, must be a non-empty string');
  }
  if (!Number.isSafeInteger(expiresInSeconds)) throw new Error('expiresInSeconds must be an integer');

  const keys = await loadOrCreateKeys(dir);
  const iat = Math.floor(Date.now() / 1000);
  const claims: JWTPayload = {
    sub: user,
    'cognito:username': user,
    iss: LOCAL_ISSUER,
    aud: LOCAL_AUDIENCE,
    token_use: 'id',
    auth_time: iat,
    iat,
    exp: iat + expiresInSeconds,
    jti: randomUUID(),
    'custom:tenantId': tenant,
    'custom:role': role,
    ...(team !== undefined ? { 'custom:teamId': team } : {}),
  };
  return new SignJWT(claims).setProtectedHeader({ alg: ALG, kid: keys.kid, typ: 'JWT' }).sign(keys.signingKey);
}

/**
 * How the local runtime configures the Lambda authorizer (functions/auth/authorizer.ts): the
 * local pool and keys, and no cache, so a deleted API key is refused at once.
 */
export async function localAuthorizerConfig(dir: string = dataDir()): Promise<AuthorizerConfig> {
  const keys = await loadOrCreateKeys(dir);
  return { userPoolId: LOCAL_USER_POOL_ID, clientId: LOCAL_AUDIENCE, jwks: keys.jwks as unknown as Jwks, cacheTtlSeconds: 0 };
}

/**
 * Checks a token as API Gateway's HTTP API JWT authorizer would (for tools and tests of the
 * tokens themselves; requests go through the Lambda authorizer): RS256 signature by the JWKS key
 * named by `kid`, `iss`, `aud` (or `client_id` when there is no `aud`), `exp`, `nbf`
 * and `iat`, with no clock skew allowed. Returns the claims as API Gateway hands them
 * to Lambda (`requestContext.authorizer.jwt.claims`): every value a string.
 * Throws on any failure.
 */
export async function verifyToken(token: string, dir: string = dataDir()): Promise<Record<string, string>> {
  if (typeof token !== 'string' || token === '') throw new Error('no token');
  const keys = await loadOrCreateKeys(dir);
  const jwks = createLocalJWKSet(keys.jwks);
  // API Gateway picks the key by `kid` only; jose would fall back to the sole key without one.
  const getKey = (header: JWSHeaderParameters, input: FlattenedJWSInput) => {
    if (typeof header.kid !== 'string' || header.kid === '') throw new Error('token header has no "kid"');
    return jwks(header, input);
  };
  const { payload } = await jwtVerify(token, getKey, {
    algorithms: [ALG],
    issuer: LOCAL_ISSUER,
    requiredClaims: ['exp'],
    clockTolerance: 0,
  });

  // aud wins when present; client_id (access tokens) counts only without aud.
  if (payload.aud !== undefined) {
    const auds = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!auds.includes(LOCAL_AUDIENCE)) throw new Error('unexpected "aud" claim value');
  } else if (payload.client_id !== LOCAL_AUDIENCE) {
    throw new Error('missing or unexpected "aud"/"client_id" claim');
  }
  if (typeof payload.iat === 'number' && payload.iat > Math.floor(Date.now() / 1000)) {
    throw new Error('"iat" claim is in the future');
  }
  return stringifyClaims(payload);
}

/** API Gateway's rendering of claims: numbers in decimal, arrays as `[a b]`. */
export function stringifyClaims(payload: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload)) {
    if (v === undefined) continue;
    out[k] = claimString(v);
  }
  return out;
}

function claimString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v).toString() : String(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(claimString).join(' ')}]`;
  return JSON.stringify(v);
}
