/**
 * HTTP scenarios through the same router the local runtime serves, with real signed
 * tokens and real API Gateway v2 events.
 */
import { mintToken } from '#local/auth.ts';
import { createRouter, type LocalResponse } from '#local/router.ts';
import type { Role } from '#domain/identity.ts';

const route = createRouter();

export interface Caller {
  tenant: string;
  user: string;
  role: Role;
  team?: string;
}

export interface ApiResponse<T = any> extends LocalResponse {
  json: T;
}

/** A caller's token is reused for this long (an RS256 signature costs ~1 ms of CPU, and requests run in the tens of thousands). */
const TOKEN_REUSE_MS = 60_000;
const minted = new Map<string, { token: Promise<string>; at: number }>();

/**
 * A signed ID token for the caller. The same caller and lifetime get the same token for a minute
 * of the (possibly faked) clock; a clock moved back, or on by more than that, mints a new one, so a
 * reused token is never more than a minute old nor issued after "now".
 */
export async function tokenFor(c: Caller, expiresInSeconds = 3600): Promise<string> {
  const mint = () => mintToken({ tenant: c.tenant, user: c.user, role: c.role, ...(c.team ? { team: c.team } : {}), expiresInSeconds });
  // A token that turns from valid to expired within the reuse window is always minted afresh.
  if (expiresInSeconds > 0 && expiresInSeconds * 1000 < 10 * TOKEN_REUSE_MS) return mint();
  const key = JSON.stringify([c.tenant, c.user, c.role, c.team ?? null, expiresInSeconds]);
  const now = Date.now();
  const hit = minted.get(key);
  if (hit && now >= hit.at && now - hit.at < TOKEN_REUSE_MS) return hit.token;
  const token = mint();
  minted.set(key, { token, at: now });
  token.catch(() => minted.delete(key));
  return token;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as is (string) instead of JSON-encoding `body`. */
  raw?: string;
  token?: string | null;
}

export async function call<T = any>(
  caller: Caller | null,
  method: string,
  url: string,
  body?: unknown,
  opts: RequestOptions = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token !== undefined ? opts.token : caller ? await tokenFor(caller) : null;
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined = opts.raw;
  if (payload === undefined && body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await route({ method, url, headers, body: payload });
  let json: unknown;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  return { ...res, json: json as T };
}

/** A caller bound to one identity: `as(alice).post('/v1/accounts', {...})`. */
export function as(caller: Caller) {
  return {
    get: <T = any>(url: string, opts?: RequestOptions) => call<T>(caller, 'GET', url, undefined, opts),
    post: <T = any>(url: string, body?: unknown, opts?: RequestOptions) => call<T>(caller, 'POST', url, body, opts),
    patch: <T = any>(url: string, body?: unknown, opts?: RequestOptions) => call<T>(caller, 'PATCH', url, body, opts),
    put: <T = any>(url: string, body?: unknown, opts?: RequestOptions) => call<T>(caller, 'PUT', url, body, opts),
    delete: <T = any>(url: string, opts?: RequestOptions) => call<T>(caller, 'DELETE', url, undefined, opts),
  };
}
