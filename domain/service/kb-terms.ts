/**
 * What a "term" of the knowledge base is (api/service.md "Knowledge base"; docs/api-decisions.md).
 * Pure: no I/O.
 *
 * Text is NFKC-normalized (full-width `ＡＢＣ１` is `abc1`) and lower-cased, then cut into runs:
 * - a run of CJK characters (Han, Hiragana, Katakana, Hangul) gives its overlapping bigrams
 *   (`如何申请退款` → 如何 何申 申请 请退 退款); a run of ONE such character gives that character;
 * - a run of other letters, digits and combining marks is one word (`Refund` → `refund`,
 *   `v2.1` → `v2`, `1`), cut to its first MAX_WORD characters;
 * - everything else (spaces, punctuation, symbols) separates terms.
 * So `退款` finds `如何申请退款` (the bigram 退款 is in both), and `Refund` finds `refund` but not
 * `refunds` (whole words).
 */

/** Words longer than this are cut (a hash or a URL fragment): both sides of a match are cut alike. */
export const MAX_WORD = 40;

const isCjk = (cp: number) =>
  (cp >= 0x3400 && cp <= 0x4dbf) || // CJK extension A
  (cp >= 0x4e00 && cp <= 0x9fff) || // CJK unified ideographs
  (cp >= 0xf900 && cp <= 0xfaff) || // compatibility ideographs (NFKC maps most away)
  (cp >= 0x20000 && cp <= 0x3134f) || // extensions B–G
  (cp >= 0x3040 && cp <= 0x30ff) || // Hiragana, Katakana
  (cp >= 0xac00 && cp <= 0xd7af); // Hangul syllables

const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;

/** The terms of `text` in reading order, repeats included. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  let cjk: string[] = [];
  let word = '';
  const flushCjk = () => {
    if (cjk.length === 1) out.push(cjk[0]!);
    for (let i = 0; i + 1 < cjk.length; i++) out.push(cjk[i]! + cjk[i + 1]!);
    cjk = [];
  };
  const flushWord = () => {
    if (word) out.push([...word].slice(0, MAX_WORD).join(''));
    word = '';
  };
  for (const ch of text.normalize('NFKC').toLowerCase()) {
    const cp = ch.codePointAt(0)!;
    if (isCjk(cp)) {
      flushWord();
      cjk.push(ch);
    } else if (WORD_CHAR.test(ch)) {
      flushCjk();
      word += ch;
    } else {
      flushCjk();
      flushWord();
    }
  }
  flushCjk();
  flushWord();
  return out;
}

/** How an article holds one term: in its title or not, and how often in title and body (capped). */
export interface TermStats {
  title: boolean;
  count: number;
}

export const MAX_TERM_COUNT = 9999;

/** Every distinct term of an article with its stats. */
export function articleTerms(title: string, body: string): Map<string, TermStats> {
  const terms = new Map<string, TermStats>();
  const add = (term: string, inTitle: boolean) => {
    const s = terms.get(term);
    if (s) {
      s.title ||= inTitle;
      s.count = Math.min(MAX_TERM_COUNT, s.count + 1);
    } else terms.set(term, { title: inTitle, count: 1 });
  };
  for (const term of tokenize(title)) add(term, true);
  for (const term of tokenize(body)) add(term, false);
  return terms;
}

/** Distinct terms of a text, in first-seen order. */
export function distinctTerms(text: string): string[] {
  return [...new Set(tokenize(text))];
}

/**
 * The terms a query must match, all of them. A CJK run's bigrams are thinned to a set that still
 * covers every character of the run (for ABCDE: AB, CD, DE) — an article holding those holds
 * every character pair the run needs far more often than not, and each term dropped is one
 * fewer posting list to read. The trade-off, for runs of 3+ characters: an article holding the
 * covering bigrams apart (申请 … 退款 but never 申请退款 in one place) matches too; results are not
 * verified against the body (that would read every candidate's body).
 */
export function queryTerms(q: string): string[] {
  const out: string[] = [];
  for (const run of runs(q)) {
    if (run.kind === 'word') out.push(...tokenize(run.text));
    else {
      const chars = [...run.text];
      if (chars.length <= 2) out.push(chars.join(''));
      else {
        for (let i = 0; i + 1 < chars.length; i += 2) out.push(chars[i]! + chars[i + 1]!);
        if (chars.length % 2 === 1) out.push(chars[chars.length - 2]! + chars[chars.length - 1]!);
      }
    }
  }
  return [...new Set(out)];
}

/** The CJK runs and the other text of a string, after normalization. */
function runs(text: string): { kind: 'cjk' | 'word'; text: string }[] {
  const out: { kind: 'cjk' | 'word'; text: string }[] = [];
  for (const ch of text.normalize('NFKC').toLowerCase()) {
    const kind = isCjk(ch.codePointAt(0)!) ? 'cjk' : 'word';
    const last = out[out.length - 1];
    if (last && last.kind === kind) last.text += ch;
    else out.push({ kind, text: ch });
  }
  return out;
}
