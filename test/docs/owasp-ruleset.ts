/**
 * The Spectral ruleset the OpenAPI document is linted with (test/docs/spectral-owasp.test.ts):
 * OWASP's API Security Top 10 2023 rules (@stoplight/spectral-owasp-ruleset), every rule on
 * unless turned off below, each with its reason. Overrides name the exact place they excuse
 * (a JSON pointer into the document, linted as `openapi.json` beside this ruleset).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ruleset, type RulesetDefinition } from '@stoplight/spectral-core';
import owasp from '@stoplight/spectral-owasp-ruleset';

/** Where the document counts as being, for the overrides' file names. */
export const DOCUMENT_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'openapi.json');

/** `#/paths/…` for a path of the document, as Spectral writes pointers (`/` as `~1`, then URI-encoded: `{` as `%7B`). */
const at = (apiPath: string, ...rest: string[]) =>
  `openapi.json#/paths/${encodeURI(apiPath.replaceAll('~', '~0').replaceAll('/', '~1'))}${rest.map((r) => `/${encodeURI(r)}`).join('')}`;

/** Capability links sent in emails: the path token is the only proof, by design. */
const CAPABILITY_LINKS = ['/u/{token}', '/s/{token}', '/t/o/{token}', '/t/c/{token}'];

export const owaspDefinition: RulesetDefinition = {
  extends: [[owasp as unknown as RulesetDefinition, 'recommended']],
  overrides: [
    {
      // Reason: these are capability URLs in emails (RFC 8058 one-click unsubscribe, the open pixel,
      // tracked links, survey links): they must work with no login, so the path carries a signed,
      // single-purpose token (HMAC-SHA256 tag over the tenant and ids, domain/marketing/tokens.ts)
      // that can do one thing to one recipient and nothing else. It is not an account's credential.
      files: CAPABILITY_LINKS.map((p) => at(p)),
      rules: { 'owasp:api2:2023-no-credentials-in-url': 'off', 'owasp:api2:2023-write-restricted': 'off' },
    },
    {
      // Reason: a false match of `$..headers`: `headers` here is a property of the answer's body (the
      // headers the client must send with its upload PUT), not the answer's own headers.
      files: [at('/v1/imports/uploads', 'post', 'responses', '201', 'content')],
      rules: { 'owasp:api8:2023-define-cors-origin': 'off' },
    },
  ],
};

export const owaspRuleset = () => new Ruleset(owaspDefinition, { source: path.join(path.dirname(DOCUMENT_SOURCE), 'owasp-ruleset.ts') });
