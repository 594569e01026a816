/**
 * Outbound HTTP for webhook deliveries: one POST, on node:http / node:https, to the address the
 * egress policy checked at send time (egress-policy.ts). Never throws: every way an attempt can
 * end is an `AttemptResult`.
 *
 * - The connection goes to the checked address: `lookup` answers it, whatever DNS says by now;
 *   the Host header, SNI and certificate check still use the URL's name.
 * - No redirects are followed (node's client follows none): a 3xx is a failed attempt.
 * - One deadline per attempt (`timeoutMs`, default 10 s) from the start to the status line; a
 *   receiver that answers after it, or never, is a `timeout`. The body of the answer is not read.
 * - No connection reuse (`agent: false`): each attempt resolves, checks and connects afresh.
 */
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { checkUrl, egressConfig, InvalidWebhookUrl, resolveTarget, type EgressConfig, type ResolvedAddress } from '#domain/integrations/egress-policy.ts';

/** Why an attempt failed, as `lastError` shows it. */
export type AttemptError =
  | 'invalid_url'
  | 'blocked_address'
  | 'dns_failure'
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'tls_error'
  | 'network_error'
  | 'redirect_not_followed'
  | 'unexpected_status'
  | 'gone';

export interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  error: AttemptError | null;
}

export async function postJson(
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  cfg: EgressConfig = egressConfig(),
): Promise<AttemptResult> {
  let target;
  try {
    target = checkUrl(rawUrl, cfg);
  } catch (err) {
    if (!(err instanceof InvalidWebhookUrl)) throw err;
    return { ok: false, statusCode: null, error: err.problem === 'blocked_address' || err.problem === 'blocked_name' ? 'blocked_address' : 'invalid_url' };
  }
  const resolved = await resolveTarget(target, cfg);
  if (!resolved.ok) return { ok: false, statusCode: null, error: resolved.problem };
  return send(target.url, resolved.address, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }, body, cfg.timeoutMs);
}

function pinnedLookup(pinned: ResolvedAddress): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  }) as LookupFunction;
}

class AttemptTimeout extends Error {}

/**
 * node:http for a plain-HTTP receiver, loaded on first use as a builtin: an ESM import of
 * node:http builds its module facade, which loads Node's whole fetch implementation (undici), a
 * third of these functions' start-up; https is what receivers use.
 */
let plainHttp: typeof import('node:http') | undefined;
const httpModule = () => (plainHttp ??= process.getBuiltinModule('node:http'));

function send(url: URL, address: ResolvedAddress, headers: Record<string, string>, body: string, timeoutMs: number): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const client = url.protocol === 'https:' ? https : httpModule();
    let settled = false;
    const finish = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = client.request(url, {
      method: 'POST',
      headers: { ...headers, 'user-agent': 'crm-webhooks/1' },
      agent: false,
      lookup: pinnedLookup(address),
    });
    const timer = setTimeout(() => req.destroy(new AttemptTimeout()), timeoutMs);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      // The status line is the answer; the body is not ours to wait for.
      res.destroy();
      if (status >= 200 && status < 300) finish({ ok: true, statusCode: status, error: null });
      else if (status === 410) finish({ ok: false, statusCode: status, error: 'gone' });
      else if (status >= 300 && status < 400) finish({ ok: false, statusCode: status, error: 'redirect_not_followed' });
      else finish({ ok: false, statusCode: status, error: 'unexpected_status' });
    });
    req.on('error', (err) => finish({ ok: false, statusCode: null, error: errorOf(err) }));
    req.end(body);
  });
}

function errorOf(err: Error): AttemptError {
  if (err instanceof AttemptTimeout) return 'timeout';
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return 'connection_reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns_failure';
  if (/CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(code) || /certificate|tls|ssl/i.test(err.message)) return 'tls_error';
  return 'network_error';
}
