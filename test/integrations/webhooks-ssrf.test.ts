/**
 * SSRF protection of outbound webhooks (api/integrations.md "URL rules"): every blocked range,
 * IPv4, IPv6 and IPv4-mapped; names that resolve to private addresses (the resolver is injected,
 * no real DNS), refused at create and patch and again at send time (DNS rebinding: never sent);
 * the connection pinned to the checked address; redirects not followed; `http://` refused in
 * cloud mode, and only 127.0.0.1 / localhost with a port in local mode.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { blockedRange, checkUrl, configureEgress, InvalidWebhookUrl, resetEgress, resolveTarget, type Resolver } from '#domain/integrations/egress-policy.ts';
import { postJson } from '#domain/integrations/http-egress.ts';
import { fanOutEvent } from '#domain/integrations/webhook-deliveries.ts';
import { api, expectProblem, listAll, type Caller } from '#test/support/fixtures.ts';
import { domainEvent } from '#test/integrations/webhook-support.ts';
import { startReceiver, status, type Receiver } from '#test/integrations/receiver.ts';

const root: Caller = { tenant: 'ssrf', user: 'root', role: 'admin' };

/** Every range the contract names (and the reserved ones we add), with addresses at its edges. */
const BLOCKED: [string, string[]][] = [
  ['loopback 127.0.0.0/8', ['127.0.0.1', '127.255.255.254', '127.1.2.3']],
  ['loopback ::1', ['::1', '0:0:0:0:0:0:0:1']],
  ['RFC 1918 10.0.0.0/8', ['10.0.0.1', '10.255.255.255']],
  ['RFC 1918 172.16.0.0/12', ['172.16.0.1', '172.31.255.255']],
  ['RFC 1918 192.168.0.0/16', ['192.168.0.1', '192.168.255.255']],
  ['RFC 4193 fc00::/7', ['fc00::1', 'fd12:3456:789a::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']],
  ['link-local 169.254.0.0/16 (and the metadata address)', ['169.254.0.1', '169.254.169.254', '169.254.255.255']],
  ['link-local fe80::/10', ['fe80::1', 'febf::1']],
  ['CGNAT 100.64.0.0/10', ['100.64.0.1', '100.127.255.254']],
  ['multicast 224.0.0.0/4', ['224.0.0.1', '239.255.255.250']],
  ['multicast ff00::/8', ['ff02::1', 'ff05::2']],
  ['unspecified 0.0.0.0/8', ['0.0.0.0', '0.1.2.3']],
  ['unspecified ::', ['::']],
  ['broadcast', ['255.255.255.255']],
  ['IETF protocol assignments 192.0.0.0/24', ['192.0.0.1', '192.0.0.170']],
  ['documentation and benchmarking', ['192.0.2.1', '198.51.100.1', '203.0.113.1', '198.18.0.1', '198.19.255.255', '2001:db8::1']],
  ['reserved 240.0.0.0/4', ['240.0.0.1', '250.1.2.3']],
  ['AWS metadata over IPv6 fd00:ec2::254', ['fd00:ec2::254']],
  ['IPv4-mapped IPv6 of blocked addresses', ['::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::ffff:a9fe:a9fe', '::ffff:192.168.1.1', '::ffff:100.64.0.1', '::ffff:0.0.0.0']],
  ['IPv4 embedded in IPv6 transition ranges (NAT64, 6to4, Teredo)', ['64:ff9b::a9fe:a9fe', '64:ff9b::7f00:1', '2002:a9fe:a9fe::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2']],
  ['deprecated IPv4-compatible and site-local IPv6', ['::127.0.0.1', '::10.0.0.1', 'fec0::1']],
];
const PUBLIC = ['8.8.8.8', '1.1.1.1', '100.63.255.255', '100.128.0.1', '172.15.255.255', '172.32.0.1', '11.0.0.1', '192.169.0.1', '2606:4700:4700::1111', '2a00:1450:4001:82a::200e', '::ffff:8.8.8.8'];

describe('blocked address ranges', () => {
  for (const [range, addresses] of BLOCKED) {
    it(`${range}: blocked`, () => {
      for (const a of addresses) expect(blockedRange(a), a).not.toBeNull();
      for (const a of addresses) expect(() => checkUrl(`https://${a.includes(':') ? `[${a}]` : a}/hook`, { allowLoopback: false }), a).toThrow(InvalidWebhookUrl);
    });
  }

  it('public unicast addresses pass', () => {
    for (const a of PUBLIC) expect(blockedRange(a), a).toBeNull();
    expect(checkUrl('https://8.8.8.8/hook', { allowLoopback: false }).address).toEqual({ address: '8.8.8.8', family: 4 });
  });

  it('other spellings of an IPv4 literal are normalized first (decimal, hex, short forms)', () => {
    for (const url of ['https://2130706433/', 'https://0x7f.1/', 'https://127.1/', 'https://0177.0.0.1/', 'https://169.254.43518/']) {
      expect(() => checkUrl(url, { allowLoopback: false }), url).toThrow(InvalidWebhookUrl);
    }
  });

  it('metadata names, localhost names and credentials are refused whatever they resolve to', () => {
    for (const url of ['https://metadata.google.internal/computeMetadata/v1/', 'https://instance-data/latest/', 'https://METADATA.google.internal./', 'https://localhost/', 'https://api.localhost/', 'https://user:pw@example.com/']) {
      expect(() => checkUrl(url, { allowLoopback: false }), url).toThrow(InvalidWebhookUrl);
    }
  });

  it('schemes: https only in the cloud; locally also http://127.0.0.1:<port> and http://localhost:<port>, and nothing else private', () => {
    const cloud = { allowLoopback: false };
    const local = { allowLoopback: true };
    for (const url of ['http://example.com/hook', 'ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/', 'http://127.0.0.1:8080/hook', 'not a url']) {
      expect(() => checkUrl(url, cloud), url).toThrow(InvalidWebhookUrl);
    }
    expect(checkUrl('https://example.com/hook', cloud).host).toBe('example.com');
    expect(checkUrl('http://127.0.0.1:8080/hook', local).address).toEqual({ address: '127.0.0.1', family: 4 });
    expect(checkUrl('http://localhost:8080/hook', local).address).toEqual({ address: '127.0.0.1', family: 4 });
    for (const url of ['http://127.0.0.1/hook', 'http://127.0.0.2:8080/', 'http://[::1]:8080/', 'http://10.0.0.1:8080/', 'http://example.com:8080/', 'https://192.168.1.1:8443/']) {
      expect(() => checkUrl(url, local), url).toThrow(InvalidWebhookUrl);
    }
  });
});

describe('names that resolve to blocked addresses', () => {
  const fake = (answers: Record<string, string[]>): Resolver => async (host) => {
    const a = answers[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

  it('resolveTarget: IPv4 preferred; one blocked address among public ones is enough to refuse; no answer is a DNS failure', async () => {
    const resolve = fake({ 'good.example': ['2606:2800:220:1::1', '93.184.216.34'], 'evil.example': ['93.184.216.34', '10.0.0.7'], 'mapped.example': ['::ffff:127.0.0.1'] });
    expect(await resolveTarget(checkUrl('https://good.example/x', { allowLoopback: false }), { resolve })).toEqual({ ok: true, address: { address: '93.184.216.34', family: 4 } });
    expect(await resolveTarget(checkUrl('https://evil.example/x', { allowLoopback: false }), { resolve })).toMatchObject({ ok: false, problem: 'blocked_address' });
    expect(await resolveTarget(checkUrl('https://mapped.example/x', { allowLoopback: false }), { resolve })).toMatchObject({ ok: false, problem: 'blocked_address' });
    expect(await resolveTarget(checkUrl('https://nowhere.example/x', { allowLoopback: false }), { resolve })).toMatchObject({ ok: false, problem: 'dns_failure' });
  });

  describe('over HTTP and at send time', () => {
    let rx: Receiver;
    const answers: Record<string, string[]> = {};
    beforeAll(async () => {
      rx = await startReceiver();
    });
    afterAll(async () => {
      resetEgress();
      await rx.close();
    });
    beforeEach(() => {
      resetEgress();
      configureEgress({ timeoutMs: 2_000, resolve: fake(answers) });
    });

    it('create and patch: a name resolving to a private address → 400 invalid_url; one that does not resolve yet is accepted', async () => {
      answers['intranet.example.cn'] = ['192.168.10.20'];
      answers['rebind.example.cn'] = ['203.0.114.9'];
      const refused = await api(root).post('/v1/webhooks', { url: 'https://intranet.example.cn/hook', events: ['*'] });
      expectProblem(refused, 400, 'invalid_url');
      expect(refused.json.errors).toEqual([{ path: 'body.url', message: expect.stringContaining('192.168.10.20') }]);
      expectProblem(await api(root).post('/v1/webhooks', { url: 'https://169.254.169.254/latest/meta-data/', events: ['*'] }), 400, 'invalid_url');
      expectProblem(await api(root).post('/v1/webhooks', { url: 'https://metadata.google.internal/', events: ['*'] }), 400, 'invalid_url');
      expectProblem(await api(root).post('/v1/webhooks', { url: 'https://[::ffff:10.1.1.1]/', events: ['*'] }), 400, 'invalid_url');

      const created = await api(root).post('/v1/webhooks', { url: 'https://rebind.example.cn/hook', events: ['*'] });
      expect(created.status, created.body).toBe(201);
      expectProblem(await api(root).patch(`/v1/webhooks/${created.json.id}`, { url: 'https://intranet.example.cn/hook' }), 400, 'invalid_url');
      expect((await api(root).post('/v1/webhooks', { url: 'https://not-yet.example.cn/hook', events: ['lead.created'] })).status).toBe(201);
      expect((await api(root).get(`/v1/webhooks/${created.json.id}`)).json.url).toBe('https://rebind.example.cn/hook');
      await api(root).delete(`/v1/webhooks/${created.json.id}`);
    });

    it('a name that resolves to a private address at send time (DNS rebinding) → never sent, lastError blocked_address', async () => {
      answers['rebound.example.cn'] = ['198.41.0.4'];
      const created = await api(root).post('/v1/webhooks', { url: `https://rebound.example.cn:${rx.port}/hook`, events: ['account.created'] });
      expect(created.status, created.body).toBe(201);
      answers['rebound.example.cn'] = ['127.0.0.1'];
      await fanOutEvent(domainEvent(root.tenant, 'account.created'));
      const [d] = await listAll(root, `/v1/webhooks/${created.json.id}/deliveries`);
      expect(d).toMatchObject({ status: 'pending', attempts: 1, lastError: 'blocked_address', lastStatusCode: null });
      expect(rx.received('/hook')).toEqual([]);
      await api(root).delete(`/v1/webhooks/${created.json.id}`);
    });

    it('the connection goes to the address checked, not to what DNS answers at connect time', async () => {
      // `localhost` is pinned to 127.0.0.1 locally: a resolver that would say otherwise is never asked.
      answers.localhost = ['10.9.9.9'];
      const res = await postJson(`http://localhost:${rx.port}/pinned`, {}, '{}');
      expect(res).toEqual({ ok: true, statusCode: 200, error: null });
      expect(rx.received('/pinned')).toHaveLength(1);
    });

    it('a redirect is not followed: a 3xx is a failed attempt, and its target hears nothing', async () => {
      rx.set('/redirect', status(307, rx.url('/target')));
      expect(await postJson(rx.url('/redirect'), {}, '{}')).toEqual({ ok: false, statusCode: 307, error: 'redirect_not_followed' });
      rx.set('/moved', status(301, 'http://169.254.169.254/latest/meta-data/'));
      expect(await postJson(rx.url('/moved'), {}, '{}')).toEqual({ ok: false, statusCode: 301, error: 'redirect_not_followed' });
      expect(rx.received('/target')).toEqual([]);
    });

    it('cloud mode: http:// (even to a loopback receiver) → 400 invalid_url at create, and never sent', async () => {
      const local = await api(root).post('/v1/webhooks', { url: rx.url('/was-local'), events: ['contact.created'] });
      expect(local.status, local.body).toBe(201);
      configureEgress({ allowLoopback: false });
      const res = await api(root).post('/v1/webhooks', { url: rx.url('/cloud'), events: ['*'] });
      expectProblem(res, 400, 'invalid_url');
      expectProblem(await api(root).post('/v1/webhooks', { url: 'http://example.com/hook', events: ['*'] }), 400, 'invalid_url');
      await fanOutEvent(domainEvent(root.tenant, 'contact.created'));
      const [d] = await listAll(root, `/v1/webhooks/${local.json.id}/deliveries`);
      expect(d).toMatchObject({ status: 'pending', lastError: 'invalid_url' });
      expect(rx.received('/was-local')).toEqual([]);
      expect(rx.received('/cloud')).toEqual([]);
    });
  });
});
