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

export async function tokenFor(c: Caller, expiresInSeconds = 3600): Promise<string> {
  return mintToken({ tenant: c.tenant, user: c.user, role: c.role, ...(c.team ? { team: c.team } : {}), expiresInSeconds });
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
