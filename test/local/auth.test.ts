import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  SignJWT,
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWTPayload,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  dataDir,
  loadOrCreateKeys,
  mintToken,
  verifyToken,
} from '#local/auth.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'crm-auth-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const now = () => Math.floor(Date.now() / 1000);

/** Signs arbitrary claims with the local private key (or another key), for negative cases. */
async function sign(claims: JWTPayload, opts: { kid?: string | null; key?: CryptoKey; alg?: string } = {}) {
  const keys = await loadOrCreateKeys(dir);
  const header: { alg: string; typ: string; kid?: string } = { alg: opts.alg ?? 'RS256', typ: 'JWT' };
  if (opts.kid !== null) header.kid = opts.kid ?? keys.kid;
  return new SignJWT(claims).setProtectedHeader(header).sign(opts.key ?? keys.signingKey);
}

const good = (): JWTPayload => ({
  sub: 'u1',
  iss: LOCAL_ISSUER,
  aud: LOCAL_AUDIENCE,
  token_use: 'id',
  iat: now() - 10,
  exp: now() + 600,
  'custom:tenantId': 't1',
  'custom:role': 'rep',
});

describe('mintToken / verifyToken', () => {
  it('round-trips a Cognito-shaped ID token with string claims', async () => {
    const before = now();
    const token = await mintToken({ tenant: 't1', user: 'u1', role: 'manager', team: 'east' }, dir);
    const claims = await verifyToken(token, dir);

    expect(claims).toMatchObject({
      sub: 'u1',
      'cognito:username': 'u1',
      iss: LOCAL_ISSUER,
      aud: LOCAL_AUDIENCE,
      token_use: 'id',
      'custom:tenantId': 't1',
      'custom:role': 'manager',
      'custom:teamId': 'east',
    });
    for (const v of Object.values(claims)) expect(typeof v).toBe('string');
    expect(claims.exp).toMatch(/^\d+$/);
    expect(Number(claims.exp) - Number(claims.iat)).toBe(3600);
    expect(Number(claims.iat)).toBeGreaterThanOrEqual(before);
    expect(claims.auth_time).toBe(claims.iat);

    const [header] = token.split('.');
    const keys = await loadOrCreateKeys(dir);
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(header!)))).toEqual({
      alg: 'RS256',
      kid: keys.kid,
      typ: 'JWT',
    });
  });

  it('omits custom:teamId without a team and honours expiresInSeconds', async () => {
    const claims = await verifyToken(await mintToken({ tenant: 't', user: 'u', role: 'rep', expiresInSeconds: 60 }, dir), dir);
    expect(claims).not.toHaveProperty('custom:teamId');
    expect(Number(claims.exp) - Number(claims.iat)).toBe(60);
  });

  it('rejects unknown roles and empty ids', async () => {
    await expect(mintToken({ tenant: 't', user: 'u', role: 'root' }, dir)).rejects.toThrow(/role/);
    await expect(mintToken({ tenant: '', user: 'u', role: 'rep' }, dir)).rejects.toThrow(/tenant/);
  });

  it('rejects an expired token (negative lifetime) and one that expires now', async () => {
    await expect(verifyToken(await mintToken({ tenant: 't', user: 'u', role: 'rep', expiresInSeconds: -1 }, dir), dir)).rejects.toThrow(/exp/);
    await expect(verifyToken(await sign({ ...good(), exp: now() }), dir)).rejects.toThrow(/exp/);
  });

  it('rejects a token signed by a different key, with or without our kid', async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const otherKid = await calculateJwkThumbprint(await exportJWK(privateKey));
    await expect(verifyToken(await sign(good(), { key: privateKey }), dir)).rejects.toThrow(/signature/);
    await expect(verifyToken(await sign(good(), { key: privateKey, kid: otherKid }), dir)).rejects.toThrow();
  });

  it('rejects a token without kid, and non-RS256 algorithms', async () => {
    await expect(verifyToken(await sign(good(), { kid: null }), dir)).rejects.toThrow(/kid/);
    const hs = new Uint8Array(32).fill(7);
    await expect(verifyToken(await sign(good(), { alg: 'HS256', key: hs as never }), dir)).rejects.toThrow();
    const [h, p] = (await sign(good())).split('.');
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${p}.`;
    await expect(verifyToken(none, dir)).rejects.toThrow();
    expect(h).toBeTruthy();
  });

  it('rejects a wrong issuer or audience', async () => {
    await expect(verifyToken(await sign({ ...good(), iss: 'https://evil.example' }), dir)).rejects.toThrow(/iss/);
    await expect(verifyToken(await sign({ ...good(), aud: 'other-client' }), dir)).rejects.toThrow(/aud/);
    // aud wins over client_id when both are present
    await expect(verifyToken(await sign({ ...good(), aud: 'other', client_id: LOCAL_AUDIENCE }), dir)).rejects.toThrow(/aud/);
  });

  it('accepts client_id in place of aud (access tokens) and checks it', async () => {
    const { aud: _aud, ...noAud } = good();
    const ok = await verifyToken(await sign({ ...noAud, token_use: 'access', client_id: LOCAL_AUDIENCE }), dir);
    expect(ok.client_id).toBe(LOCAL_AUDIENCE);
    await expect(verifyToken(await sign({ ...noAud, client_id: 'other' }), dir)).rejects.toThrow(/client_id/);
    await expect(verifyToken(await sign(noAud), dir)).rejects.toThrow(/aud/);
  });

  it('rejects nbf and iat in the future, and a token without exp', async () => {
    await expect(verifyToken(await sign({ ...good(), nbf: now() + 60 }), dir)).rejects.toThrow(/nbf/);
    await expect(verifyToken(await sign({ ...good(), iat: now() + 60 }), dir)).rejects.toThrow(/iat/);
    const { exp: _exp, ...noExp } = good();
    await expect(verifyToken(await sign(noExp), dir)).rejects.toThrow(/exp/);
  });

  it('rejects a tampered payload', async () => {
    const token = await mintToken({ tenant: 't1', user: 'u1', role: 'rep' }, dir);
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p!)));
    const forged = base64url.encode(JSON.stringify({ ...claims, 'custom:role': 'admin' }));
    await expect(verifyToken(`${h}.${forged}.${s}`, dir)).rejects.toThrow(/signature/);
    await expect(verifyToken('not-a-jwt', dir)).rejects.toThrow();
    await expect(verifyToken('', dir)).rejects.toThrow();
  });

  it('renders claims as API Gateway does: numbers in decimal, arrays as [a b]', async () => {
    const claims = await verifyToken(await sign({ ...good(), 'cognito:groups': ['a', 'b'], exp: 4102444800 }), dir);
    expect(claims.exp).toBe('4102444800');
    expect(claims['cognito:groups']).toBe('[a b]');
  });
});

describe('loadOrCreateKeys', () => {
  it('keeps a private JWK (0600) and a public JWKS on disk, and reloads them', async () => {
    const keys = await loadOrCreateKeys(dir);
    const priv = JSON.parse(await readFile(path.join(dir, 'keys', 'private.jwk.json'), 'utf8'));
    const jwks = JSON.parse(await readFile(path.join(dir, 'keys', 'jwks.json'), 'utf8'));
    expect(priv).toMatchObject({ kty: 'RSA', kid: keys.kid, alg: 'RS256', use: 'sig' });
    expect(priv.d).toBeTruthy();
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toEqual({ kty: 'RSA', kid: keys.kid, alg: 'RS256', use: 'sig', n: priv.n, e: priv.e });
    expect((await stat(path.join(dir, 'keys', 'private.jwk.json'))).mode & 0o777).toBe(0o600);
    // a token signed with the key on disk verifies (what a second process would do)
    const key = await importJWK(priv, 'RS256');
    await expect(verifyToken(await sign(good(), { key: key as CryptoKey }), dir)).resolves.toBeTruthy();
  });

  it('defaults to CRM_DATA_DIR, which the global setup points at a temp dir', () => {
    expect(process.env.CRM_DATA_DIR).toBeTruthy();
    expect(dataDir()).toBe(process.env.CRM_DATA_DIR);
  });
});
