/**
 * The comparison form of company names (normalize.ts describes every normalizer and re-exports
 * this one). A module of its own, free of the phone and domain libraries, because lead.ts derives
 * a lead's company index key from it, and lead.ts is in every bundle that links leads.
 */

/** NFKC and case-folded. */
export const fold = (s: string) => s.normalize('NFKC').toLowerCase().normalize('NFKC');

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
