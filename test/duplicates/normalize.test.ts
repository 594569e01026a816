/**
 * The normalizers of duplicate detection (domain/accounts/normalize.ts): the equivalences
 * API.md §5 and the issue name, and fast-check properties (idempotent; spelling variants
 * of one value normalize alike; distinct values stay distinct).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadNormalizers,
  normalizeCompanyName,
  normalizeDomain,
  normalizeEmail,
  normalizePhone,
  registrableDomain,
} from '#domain/accounts/normalize.ts';

const RUNS = { numRuns: 500 };

beforeAll(loadNormalizers);

describe('loading', () => {
  it('the phone and domain libraries load once, for every caller at once', async () => {
    const [a, b] = [loadNormalizers(), loadNormalizers()];
    expect(a).toBe(b);
    await a;
    expect(normalizePhone('13800138000')).toBe('+8613800138000');
  });
});

describe('phones: E.164, default region CN', () => {
  it('one number however it is written', () => {
    for (const p of ['+86 138 0013 8000', '138-0013-8000', '13800138000', '(138) 0013 8000', '+86-138-0013-8000', '008613800138000', '＋８６ １３８ ００１３ ８０００']) {
      expect(normalizePhone(p), p).toBe('+8613800138000');
    }
    expect(normalizePhone('010-6234 5678')).toBe(normalizePhone('+86 10 62345678'));
    expect(normalizePhone('+1 (415) 555-2671')).toBe('+14155552671');
  });

  it('different numbers stay different; invalid ones keep their digits', () => {
    expect(normalizePhone('13800138000')).not.toBe(normalizePhone('13800138001'));
    expect(normalizePhone('+1 415 555 2671')).not.toBe(normalizePhone('+86 415 555 2671'));
    expect(normalizePhone('12 3')).toBe('123');
    expect(normalizePhone('+12 3')).toBe('+123');
  });

  it('property: idempotent, and blind to spaces, dashes, dots and brackets', () => {
    const digits = fc.stringMatching(/^[0-9]{3,15}$/);
    const seps = fc.array(fc.constantFrom(' ', '-', '.', '(', ')', '  '), { minLength: 0, maxLength: 6 });
    fc.assert(
      fc.property(fc.boolean(), digits, seps, fc.nat(), (plus, ds, sep, seed) => {
        const plain = `${plus ? '+' : ''}${ds}`;
        // Sprinkle the separators between digits.
        const chars = ds.split('');
        sep.forEach((s, i) => chars.splice(1 + ((seed + i * 7) % chars.length), 0, s));
        const spaced = `${plus ? '+' : ''}${chars.join('')}`;
        const n = normalizePhone(plain);
        expect(normalizePhone(spaced)).toBe(n);
        expect(normalizePhone(n)).toBe(n);
      }),
      RUNS,
    );
  });

  it('property: every valid CN mobile has one E.164 form from its national, international and dialled spellings', () => {
    const mobile = fc.tuple(fc.constantFrom('130', '135', '138', '139', '150', '186', '199'), fc.stringMatching(/^[0-9]{8}$/)).map(([a, b]) => a + b);
    fc.assert(
      fc.property(mobile, (m) => {
        const e164 = `+86${m}`;
        expect(normalizePhone(m)).toBe(e164);
        expect(normalizePhone(`+86 ${m.slice(0, 3)} ${m.slice(3, 7)} ${m.slice(7)}`)).toBe(e164);
        expect(normalizePhone(`${m.slice(0, 3)}-${m.slice(3, 7)}-${m.slice(7)}`)).toBe(e164);
        expect(normalizePhone(`0086${m}`)).toBe(e164);
      }),
      RUNS,
    );
  });

  it('property: idempotent on any text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(normalizePhone(normalizePhone(s))).toBe(normalizePhone(s));
      }),
      RUNS,
    );
  });
});

describe('domains: the registrable domain (public suffix list)', () => {
  it('URLs, hosts and www. reduce to the registrable domain', () => {
    expect(registrableDomain('https://www.acme.com.cn/about')).toBe('acme.com.cn');
    expect(registrableDomain('www.acme.com.cn')).toBe('acme.com.cn');
    expect(registrableDomain('ACME.COM.CN')).toBe('acme.com.cn');
    expect(registrableDomain('http://user@shop.acme.co.uk:8080/x?y=1')).toBe('acme.co.uk');
    expect(registrableDomain('ａｃｍｅ．ｃｏｍ')).toBe('acme.com');
  });

  it('siblings under a public suffix differ', () => {
    expect(registrableDomain('a.com.cn')).toBe('a.com.cn');
    expect(registrableDomain('b.com.cn')).toBe('b.com.cn');
    expect(registrableDomain('a.github.io')).not.toBe(registrableDomain('b.github.io'));
  });

  it('no registrable domain: IPs, localhost, a bare public suffix', () => {
    for (const d of ['192.168.1.1', 'localhost', 'com.cn', 'a..com', '']) expect(registrableDomain(d), d).toBeUndefined();
  });

  it('property: idempotent; a subdomain, scheme or path never changes the registrable domain', () => {
    // Names under a suffix: prefixed so that none is itself on the public suffix list (`ha.cn` is).
    const label = fc.stringMatching(/^zq[a-z0-9-]{0,10}[a-z0-9]$/);
    const suffix = fc.constantFrom('com', 'cn', 'com.cn', 'net.cn', 'co.uk', 'org', 'io', 'de');
    fc.assert(
      fc.property(label, suffix, fc.array(label, { maxLength: 3 }), fc.boolean(), (name, tld, subs, url) => {
        const base = `${name}.${tld}`;
        const host = [...subs, base].join('.');
        const written = url ? `https://${host.toUpperCase()}/path/x?q=1` : host;
        const d = registrableDomain(written);
        expect(d).toBe(base);
        expect(normalizeDomain(d!)).toBe(d);
      }),
      RUNS,
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(normalizeDomain(normalizeDomain(s))).toBe(normalizeDomain(s));
      }),
      RUNS,
    );
  });
});

describe('emails: trimmed, case-folded', () => {
  it('examples', () => {
    expect(normalizeEmail('  Li.Lei@Example.CN ')).toBe('li.lei@example.cn');
    expect(normalizeEmail('li.lei@example.cn')).not.toBe(normalizeEmail('lilei@example.cn'));
  });

  it('property: idempotent, and blind to case and surrounding spaces', () => {
    const email = fc.emailAddress();
    fc.assert(
      fc.property(email, fc.stringMatching(/^ {0,3}$/), (e, pad) => {
        const n = normalizeEmail(e);
        expect(normalizeEmail(`${pad}${e.toUpperCase()}${pad}`)).toBe(n);
        expect(normalizeEmail(n)).toBe(n);
      }),
      RUNS,
    );
  });
});

describe('company names: NFKC, case-folded, spaces and punctuation dropped, legal suffixes stripped', () => {
  it('the issue’s equivalences', () => {
    expect(normalizeCompanyName('星辰科技有限公司')).toBe(normalizeCompanyName('星辰科技'));
    expect(normalizeCompanyName('ACME Inc.')).toBe(normalizeCompanyName('acme'));
    expect(normalizeCompanyName('ACME Inc.')).toBe('acme');
  });

  it('widths, cases, spaces, punctuation and every listed suffix', () => {
    const same = [
      '星辰科技',
      '星辰科技有限公司',
      '星辰科技有限责任公司',
      '星辰科技股份有限公司',
      '星辰科技集团',
      '星辰科技集团有限公司',
      '星辰 科技',
      '星辰·科技（有限公司）',
      '  星辰科技  有限公司 ',
    ];
    for (const n of same) expect(normalizeCompanyName(n), n).toBe('星辰科技');
    const acme = ['ACME', 'acme', 'Ａｃｍｅ', 'ACME Inc.', 'Acme, Inc', 'ACME Co., Ltd.', 'Acme Co. Ltd', 'ACME LLC', 'Acme GmbH', 'ACME Corp.', 'Acme Corporation', 'ACME Limited', 'Acme Company', 'A.C.M.E.', 'a c m e'];
    for (const n of acme) expect(normalizeCompanyName(n), n).toBe('acme');
    expect(normalizeCompanyName('星辰科技 Co., Ltd.')).toBe('星辰科技');
  });

  it('suffixes only at the end, as whole words; different companies stay different', () => {
    expect(normalizeCompanyName('Costco')).toBe('costco'); // "co" inside a word is no suffix
    expect(normalizeCompanyName('Inc Global')).toBe('incglobal');
    expect(normalizeCompanyName('星辰科技')).not.toBe(normalizeCompanyName('星河科技'));
    expect(normalizeCompanyName('a.com.cn')).not.toBe(normalizeCompanyName('b.com.cn'));
    // A name that is only a suffix keeps it rather than collapsing to nothing.
    expect(normalizeCompanyName('Limited')).toBe('limited');
    expect(normalizeCompanyName('有限公司')).toBe('有限公司');
    expect(normalizeCompanyName('!!!')).toBe('!!!');
  });

  it('property: idempotent on any text, including CJK, full-width and suffix soup', () => {
    const piece = fc.oneof(
      fc.string(),
      fc.constantFrom('有限公司', '集团', '公司', '股份', ' Inc.', ' Co., Ltd', ' LLC', 'ＡＢＣ', '（', '）', '·', ' ', '-', 'co', 'ltd', '星辰'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 6 }), (parts) => {
        const s = parts.join('');
        const n = normalizeCompanyName(s);
        expect(normalizeCompanyName(n)).toBe(n);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a name plus any legal suffix, in any case and width, equals the bare name', () => {
    const core = fc.stringMatching(/^[a-z][a-z0-9]{1,12}$/).filter((w) => !['co', 'inc', 'ltd', 'llc', 'corp', 'group', 'limited', 'company'].includes(w));
    const latin = fc.constantFrom(' Inc.', ' Co., Ltd.', ' LLC', ' GmbH', ' Corp', ' Corporation', ' Limited', ' Company', ', Inc', ' Co Ltd');
    const cjk = fc.constantFrom('有限公司', '有限责任公司', '股份有限公司', '集团', '集团有限公司');
    fc.assert(
      fc.property(core, latin, cjk, fc.boolean(), (name, l, c, upper) => {
        const bare = normalizeCompanyName(name);
        const written = upper ? name.toUpperCase() : name;
        expect(normalizeCompanyName(written + l)).toBe(bare);
        expect(normalizeCompanyName(written + c)).toBe(bare);
        // Full width (NFKC folds it back).
        const wide = [...written].map((ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0)).join('');
        expect(normalizeCompanyName(wide + l)).toBe(bare);
      }),
      RUNS,
    );
  });
});
