/**
 * Normalization for duplicate detection (查重, API.md §5 "Duplicates"): two values that
 * mean the same customer normalize to the same string, so uniqueness can be a key.
 *
 * - phones: E.164 by libphonenumber-js, default region CN ("+86 138 0013 8000",
 *   "138-0013-8000" and "13800138000" are "+8613800138000");
 * - domains: the registrable domain by tldts over the public suffix list
 *   (`https://www.acme.com.cn/about` → `acme.com.cn`; `a.com.cn` and `b.com.cn` differ);
 * - emails: trimmed, case-folded;
 * - company names: NFKC, case-folded, spaces and punctuation dropped, legal suffixes
 *   stripped ("星辰科技有限公司" ≡ "星辰科技", "ACME Inc." ≡ "acme").
 *
 * Every normalizer is idempotent: normalizing a normalized value changes nothing
 * (property-tested in test/duplicates/normalize.test.ts).
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { getDomain } from 'tldts';

const fold = (s: string) => s.normalize('NFKC').toLowerCase().normalize('NFKC');

export function normalizeEmail(email: string): string {
  return fold(email.trim()).trim();
}

/**
 * E.164 for a number libphonenumber-js accepts as valid (region CN unless the number says
 * otherwise); anything else keeps its digits (and a leading `+`), so it still compares
 * equal to itself written with other spaces or dashes.
 */
export function normalizePhone(phone: string): string {
  const compact = fold(phone);
  const digits = compact.replace(/\D/g, '');
  const cleaned = compact.trimStart().startsWith('+') ? `+${digits}` : digits;
  const parsed = parsePhoneNumberFromString(cleaned, 'CN');
  return parsed && parsed.isValid() ? parsed.number : cleaned;
}

/**
 * The registrable domain ("eTLD+1") of a domain, host or URL, or `undefined` when it has
 * none (an IP address, `localhost`, a public suffix such as `com.cn` by itself). Private
 * suffixes of the list count (`a.github.io` and `b.github.io` are different sites).
 */
export function registrableDomain(input: string): string | undefined {
  const host = fold(input.trim());
  if (!host) return undefined;
  const domain = getDomain(host, { allowPrivateDomains: true });
  return domain ? domain.toLowerCase() : undefined;
}

/** For comparing stored domains: the registrable domain, or the folded text when there is none. */
export function normalizeDomain(domain: string): string {
  return registrableDomain(domain) ?? fold(domain.trim());
}

/** Legal-form words of Latin-script company names, as whole words at the end of the name. */
const LATIN_SUFFIXES = new Set([
  'co', 'company', 'corp', 'corporation', 'inc', 'incorporated', 'ltd', 'limited', 'llc', 'llp', 'lp', 'plc',
  'gmbh', 'ag', 'kg', 'sa', 'sarl', 'srl', 'spa', 'bv', 'nv', 'ab', 'oy', 'pte', 'pty', 'kk', 'group',
]);

/** Legal-form endings of Chinese company names, longest first (stripped repeatedly: 集团有限公司 → 集团 → ""). */
const CJK_SUFFIXES = ['股份有限公司', '有限责任公司', '有限公司', '股份公司', '集团', '公司'];

/** Words: what remains between spaces, punctuation and symbols. */
const WORD_SEPARATORS = /[\s\p{P}\p{S}]+/u;

function stripCjkSuffixes(s: string): string {
  let out = s;
  for (let changed = true; changed; ) {
    changed = false;
    // A name that is nothing but a legal form (有限公司, 集团) keeps it.
    if (CJK_SUFFIXES.includes(out)) break;
    for (const suffix of CJK_SUFFIXES) {
      if (out.endsWith(suffix) && out.length > suffix.length) {
        out = out.slice(0, -suffix.length);
        changed = true;
        break;
      }
    }
  }
  return out;
}

/**
 * The comparison form of a company (or person) name: NFKC and case-folded, legal suffixes
 * stripped (trailing Latin words such as "Co., Ltd." or "Inc.", trailing Chinese endings
 * such as 有限公司 or 集团), then spaces and punctuation dropped. A name made only of a
 * suffix keeps it ("Limited" stays "limited"); a name made only of punctuation keeps its
 * folded characters, so it never collapses to the empty string.
 */
export function normalizeCompanyName(name: string): string {
  const folded = fold(name);
  const words = folded.split(WORD_SEPARATORS).filter(Boolean);
  // Trailing legal-form words; a last word that ends in a Chinese suffix is trimmed the same way.
  while (words.length > 1) {
    const last = words[words.length - 1]!;
    if (LATIN_SUFFIXES.has(last)) {
      words.pop();
      continue;
    }
    const trimmed = CJK_SUFFIXES.some((s) => last.endsWith(s)) ? stripCjkSuffixes(last) : last;
    if (trimmed === last) {
      if (CJK_SUFFIXES.includes(last)) words.pop();
      else break;
    } else {
      words[words.length - 1] = trimmed;
      break;
    }
  }
  const joined = stripCjkSuffixes(words.join(''));
  return joined || folded.replace(/\s+/g, '');
}
