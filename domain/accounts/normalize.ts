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
 *
 * The phone and domain normalizers need their libraries loaded first (`await loadNormalizers()`,
 * see there); the use cases that normalize do it as their first step.
 */
import type { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import type { getDomain } from 'tldts';
import { fold } from '#domain/accounts/company-name.ts';

interface Libraries {
  parsePhone: typeof parsePhoneNumberFromString;
  getDomain: typeof getDomain;
}

let libraries: Libraries | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads libphonenumber-js's metadata and the public suffix list: evaluated at load they were
 * most of the start-up of the functions holding them (bench/README.md, issue 11 point 6).
 * A dynamic import: in a bundle the code stays in the file but runs on the first call, so a
 * function pays for them on the first request that normalizes a phone or a domain, not at
 * every cold start. Idempotent; concurrent callers share one load.
 */
export function loadNormalizers(): Promise<void> {
  loading ??= import('#domain/accounts/normalizer-libraries.ts').then(
    (lib) => {
      libraries = { parsePhone: lib.parsePhoneNumberFromString, getDomain: lib.getDomain };
    },
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/** Whether the libraries are loaded (tests of what loads them on demand). */
export const normalizersLoaded = (): boolean => libraries !== undefined;

function loaded(): Libraries {
  if (!libraries) throw new Error('a phone or domain normalized before loadNormalizers() resolved');
  return libraries;
}

export { normalizeCompanyName } from '#domain/accounts/company-name.ts';

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
  const parsed = loaded().parsePhone(cleaned, 'CN');
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
  const domain = loaded().getDomain(host, { allowPrivateDomains: true });
  return domain ? domain.toLowerCase() : undefined;
}

/** For comparing stored domains: the registrable domain, or the folded text when there is none. */
export function normalizeDomain(domain: string): string {
  return registrableDomain(domain) ?? fold(domain.trim());
}
