/** The knowledge base's terms (domain/service/kb-terms.ts): pure rules, no I/O. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { articleTerms, MAX_WORD, queryTerms, tokenize } from '#domain/service/kb-terms.ts';

describe('tokenize', () => {
  it('Latin words are case-folded whole words; punctuation separates', () => {
    expect(tokenize('How to REQUEST a Refund? (v2.1, e-mail)')).toEqual(['how', 'to', 'request', 'a', 'refund', 'v2', '1', 'e', 'mail']);
  });
  it('Chinese runs give overlapping bigrams; a lone character is a unigram', () => {
    expect(tokenize('如何申请退款')).toEqual(['如何', '何申', '申请', '请退', '退款']);
    expect(tokenize('退 款')).toEqual(['退', '款']);
  });
  it('mixed text: runs switch at the script boundary', () => {
    expect(tokenize('CRM系统登录失败error 404')).toEqual(['crm', '系统', '统登', '登录', '录失', '失败', 'error', '404']);
  });
  it('NFKC: full-width letters and digits are the ASCII ones', () => {
    expect(tokenize('ＲＥＦＵＮＤ１２３')).toEqual(['refund123']);
  });
  it('accented and other-script words stay words', () => {
    expect(tokenize('Café naïve Ωmega')).toEqual(['café', 'naïve', 'ωmega']);
  });
  it(`words are cut at ${MAX_WORD} characters`, () => {
    expect(tokenize('x'.repeat(100))).toEqual(['x'.repeat(MAX_WORD)]);
  });
});

describe('articleTerms', () => {
  it('marks title terms and counts occurrences in title and body', () => {
    const terms = articleTerms('Refund 退款', 'refund refund 退款流程');
    expect(terms.get('refund')).toEqual({ title: true, count: 3 });
    expect(terms.get('退款')).toEqual({ title: true, count: 2 });
    expect(terms.get('流程')).toEqual({ title: false, count: 1 });
  });
});

describe('queryTerms', () => {
  it('a two-character query is its one bigram; longer runs a covering subset of bigrams', () => {
    expect(queryTerms('退款')).toEqual(['退款']);
    expect(queryTerms('申请退款')).toEqual(['申请', '退款']);
    expect(queryTerms('如何申请退款')).toEqual(['如何', '申请', '退款']);
    expect(queryTerms('申请退款流')).toEqual(['申请', '退款', '款流']);
    expect(queryTerms('Refund  REFUND 退款')).toEqual(['refund', '退款']);
  });
  it('property: every query term of a text is a term of the same text (so a text always finds itself)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'退款申请如何 refund Password ＡＢ1-。'.split('')), maxLength: 40 }), (text) => {
        const own = new Set(tokenize(text));
        for (const term of queryTerms(text)) expect(own.has(term)).toBe(true);
      }),
    );
  });
});
