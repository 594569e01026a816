/**
 * Where a webhook may be sent (api/integrations.md "URL rules"): the SSRF policy, checked when a
 * webhook is created or patched and again, after a fresh DNS resolution, before every attempt.
 *
 * - `https://` only. With `allowLoopback` (the local runtime sets `WEBHOOKS_ALLOW_LOOPBACK=1`)
 *   also `http(s)://127.0.0.1:<port>` and `http(s)://localhost:<port>`, and nothing else private.
 * - No credentials in the URL; no instance-metadata or `localhost` names.
 * - Every address the host is or resolves to must be ordinary public unicast: ipaddr.js names the
 *   range of an address (loopback, private, uniqueLocal, linkLocal, carrierGradeNat, multicast,
 *   unspecified, broadcast, reserved, benchmarking, 6to4, teredo, NAT64 …) and anything but
 *   `unicast` is refused; IPv4-mapped IPv6 is judged as the IPv4 address it carries. A name with
 *   one bad address among good ones is refused (the resolver could hand out either).
 * - The sender connects to the very address checked here (http-egress.ts pins it in `lookup`), so
 *   a DNS answer that changes between check and connect (rebinding) cannot redirect it.
 */
import { promises as dns } from 'node:dns';
import ipaddr from 'ipaddr.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** `dns.lookup` with `all: true`, or a stand-in (tests). Rejects when the name does not resolve. */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export interface EgressConfig {
  /** The local runtime's `http://127.0.0.1:<port>` / `http://localhost:<port>` receivers. */
  allowLoopback: boolean;
  /** An attempt that has no answer (status line) within this long is a `timeout`. */
  timeoutMs: number;
  resolve: Resolver;
}

const systemResolver: Resolver = async (host) =>
  (await dns.lookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

function fromEnv(): EgressConfig {
  return {
    allowLoopback: process.env.WEBHOOKS_ALLOW_LOOPBACK === '1',
    timeoutMs: Number(process.env.WEBHOOKS_TIMEOUT_MS) > 0 ? Number(process.env.WEBHOOKS_TIMEOUT_MS) : 10_000,
    resolve: systemResolver,
  };
}

let current: EgressConfig | undefined;

export function egressConfig(): EgressConfig {
  return (current ??= fromEnv());
}

/** Overrides parts of the configuration (tests: a short timeout, a fake resolver, cloud mode). */
export function configureEgress(over: Partial<EgressConfig>): void {
  current = { ...egressConfig(), ...over };
}

/** Back to what the environment says. */
export function resetEgress(): void {
  current = undefined;
}

/** Names that reach instance metadata services whatever they resolve to. */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata', 'instance-data', 'instance-data.ec2.internal', 'metadata.azure.internal']);

/** Blocks ipaddr.js files under `unicast` although they are not the public internet. */
const EXTRA_BLOCKED: [ipaddr.IPv6, number][] = [
  ipaddr.parseCIDR('fec0::/10') as [ipaddr.IPv6, number], // deprecated site-local
  ipaddr.parseCIDR('::/96') as [ipaddr.IPv6, number], // deprecated IPv4-compatible (::a.b.c.d)
];

/**
 * The range that makes `address` unusable, or `null` for public unicast. Accepts IPv4, IPv6 and
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`, judged as 10.0.0.1).
 */
export function blockedRange(address: string): string | null {
  if (!ipaddr.isValid(address)) return 'invalid';
  const parsed = ipaddr.process(address);
  const range = parsed.range();
  if (range !== 'unicast') return range;
  if (parsed.kind() === 'ipv6') {
    for (const cidr of EXTRA_BLOCKED) if ((parsed as ipaddr.IPv6).match(cidr)) return 'reserved';
  }
  return null;
}

export type UrlProblem = 'malformed' | 'scheme' | 'credentials' | 'blocked_name' | 'blocked_address';

export class InvalidWebhookUrl extends Error {
  constructor(
    readonly problem: UrlProblem,
    message: string,
  ) {
    super(message);
  }
}

/** A URL that passed the static rules: what to resolve (or the literal / pinned address to use). */
export interface WebhookTarget {
  url: URL;
  /** Lower case, no brackets, no trailing dot. */
  host: string;
  /** Set when no resolution is needed: an IP literal, or the local runtime's loopback receivers. */
  address?: ResolvedAddress;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost']);

/** The static rules (no DNS): scheme, credentials, names, literal addresses. Throws InvalidWebhookUrl. */
export function checkUrl(raw: string, cfg: Pick<EgressConfig, 'allowLoopback'> = egressConfig()): WebhookTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidWebhookUrl('malformed', 'The URL is not a valid absolute URL.');
  }
  if (url.username || url.password) throw new InvalidWebhookUrl('credentials', 'The URL may not carry credentials.');
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (!host) throw new InvalidWebhookUrl('malformed', 'The URL has no host.');

  if (cfg.allowLoopback && LOOPBACK_HOSTS.has(host) && url.port !== '' && (url.protocol === 'http:' || url.protocol === 'https:')) {
    return { url, host, address: { address: '127.0.0.1', family: 4 } };
  }
  if (url.protocol !== 'https:') throw new InvalidWebhookUrl('scheme', 'Only https:// URLs are accepted.');
  if (METADATA_NAMES.has(host) || host === 'localhost' || host.endsWith('.localhost')) {
    throw new InvalidWebhookUrl('blocked_name', `The host ${host} is not reachable from the public internet.`);
  }
  if (ipaddr.isValid(host)) {
    const range = blockedRange(host);
    if (range) throw new InvalidWebhookUrl('blocked_address', `The address ${host} is in a blocked range (${range}).`);
    return { url, host, address: { address: host, family: ipaddr.parse(host).kind() === 'ipv6' ? 6 : 4 } };
  }
  return { url, host };
}

export type Resolution = { ok: true; address: ResolvedAddress } | { ok: false; problem: 'blocked_address' | 'dns_failure'; detail: string };

/**
 * The address to connect to: the literal or pinned one, or one of the name's addresses (IPv4
 * preferred) when every one of them is public. Never throws.
 */
export async function resolveTarget(target: WebhookTarget, cfg: Pick<EgressConfig, 'resolve'> = egressConfig()): Promise<Resolution> {
  if (target.address) return { ok: true, address: target.address };
  let addresses: ResolvedAddress[];
  try {
    addresses = await cfg.resolve(target.host);
  } catch (err) {
    return { ok: false, problem: 'dns_failure', detail: `${target.host} does not resolve (${(err as { code?: string }).code ?? 'error'}).` };
  }
  if (addresses.length === 0) return { ok: false, problem: 'dns_failure', detail: `${target.host} has no address.` };
  for (const a of addresses) {
    const range = blockedRange(a.address);
    if (range) return { ok: false, problem: 'blocked_address', detail: `${target.host} resolves to ${a.address} (${range}).` };
  }
  // IPv4 first when there is one: Lambda outside a VPC has no IPv6 egress.
  return { ok: true, address: addresses.find((a) => a.family === 4) ?? addresses[0]! };
}
