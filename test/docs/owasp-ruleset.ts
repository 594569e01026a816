/**
 * The Spectral ruleset the OpenAPI document is linted with (test/docs/spectral-owasp.test.ts):
 * OWASP's API Security Top 10 2023 rules (@stoplight/spectral-owasp-ruleset), every rule on
 * unless turned off below with its reason.
 */
import owasp from '@stoplight/spectral-owasp-ruleset';
import type { RulesetDefinition } from '@stoplight/spectral-core';

export const owaspRuleset: RulesetDefinition = {
  extends: [[owasp as unknown as RulesetDefinition, 'recommended']],
  rules: {},
};
