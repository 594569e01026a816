/**
 * Tracking in campaign emails: every `http(s)` link of the html is rewritten to
 * `/t/c/{token}` (the token names the link by its position in the campaign's own html, so
 * the redirect can only go where the campaign links: no open redirect), an open pixel
 * `/t/o/{token}` is appended, and `{{unsubscribeUrl}}` / `List-Unsubscribe` point at
 * `/u/{token}`. Links whose URL holds a merge tag are left as they are.
 */
import { signToken } from '#domain/marketing/tokens.ts';

const LINK = /(\bhref\s*=\s*)(["'])(https?:\/\/[^"'\s<>]+)\2/gi;

/** The base of public URLs: `PUBLIC_BASE_URL` (the API's URL in the cloud), else the local server. */
export function publicBaseUrl(): string {
  return (process.env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`).replace(/\/+$/, '');
}

/** The trackable links of a campaign's html, in order (as written, HTML entities decoded). */
export function trackableLinks(html: string): string[] {
  return [...html.matchAll(LINK)].map((m) => m[3]!).filter((url) => !url.includes('{{')).map(decodeEntities);
}

function decodeEntities(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);
}

/** The html with `{{h_click<i>}}` for each trackable link and the `{{h_open}}` pixel; slots filled per recipient. */
export function trackedHtml(html: string): string {
  let i = 0;
  const rewritten = html.replace(LINK, (whole, attr: string, quote: string, url: string) =>
    url.includes('{{') ? whole : `${attr}${quote}{{h_click${i++}}}${quote}`,
  );
  const pixel = '<img src="{{h_open}}" width="1" height="1" alt="" style="display:none">';
  return /<\/body>/i.test(rewritten) ? rewritten.replace(/<\/body>/i, `${pixel}</body>`) : `${rewritten}${pixel}`;
}

export function trackingValues(tenantId: string, campaignId: string, recipientId: string, campaignHtml: string) {
  const base = publicBaseUrl();
  const ids = [campaignId, recipientId];
  const unsubscribeUrl = `${base}/u/${signToken({ tenantId, kind: 'unsubscribe', ids })}`;
  const slots: Record<string, string> = { h_open: `${base}/t/o/${signToken({ tenantId, kind: 'open', ids })}` };
  trackableLinks(campaignHtml).forEach((_url, i) => {
    slots[`h_click${i}`] = `${base}/t/c/${signToken({ tenantId, kind: 'click', ids: [...ids, String(i)] })}`;
  });
  return { unsubscribeUrl, slots };
}
