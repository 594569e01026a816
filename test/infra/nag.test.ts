/**
 * cdk-nag AwsSolutions: synthesizing the whole app raises no unacknowledged finding, and the
 * acknowledgements in code are exactly the reviewed list below, each with a reason.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { buildTestApp } from './support.ts';

/** Rule ids acknowledged somewhere in infra/ (granular ids reduced to their rule). Adding one is a review decision. */
const REVIEWED_ACKNOWLEDGEMENTS = [
  'AwsSolutions-APIG4', // GET /health is public on purpose
  'AwsSolutions-COG2', // MFA optional, threat protection enforced
  'AwsSolutions-IAM5', // scheduler role: <job function ARN>:* (versions/aliases); imports: <uploads bucket>/imports/* and /exports/*
  'AwsSolutions-L1', // Node.js 22 chosen deliberately
  'AwsSolutions-S1', // import uploads bucket: a day's CSVs (uploads, large exports) via presigned URLs, no access-log bucket
  'AwsSolutions-SMG4', // cursor key rotated by redeploy
  'AwsSolutions-SQS3', // DLQs have no DLQ
];

describe('cdk-nag AwsSolutions', () => {
  const { app } = buildTestApp();

  it('synthesizes with no unacknowledged findings', () => {
    let error: unknown;
    try {
      app.synth();
    } catch (e) {
      error = e;
    }
    const reportFile = path.join(app.outdir, 'validation-report.json');
    const report = existsSync(reportFile) ? readFileSync(reportFile, 'utf8') : '(no validation-report.json)';
    expect(error, `synth failed: ${String(error)}\n${report}`).toBeUndefined();
  }, 180_000);

  it('acknowledges only the reviewed rules, each with a specific reason', () => {
    const found = new Map<string, string[]>();
    for (const c of app.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          const rule = id.replace(/^annotation::/i, '').replace(/\[.*$/, '');
          expect(typeof reason === 'string' && reason.length >= 40, `${c.node.path} ${id}: reason too short`).toBe(true);
          found.set(rule, [...(found.get(rule) ?? []), c.node.path]);
        }
      }
    }
    expect([...found.keys()].sort()).toEqual(REVIEWED_ACKNOWLEDGEMENTS);
    // Never on a whole stack or the app: always the narrowest construct.
    for (const [rule, paths] of found) {
      for (const p of paths) expect(p.split('/').length, `${rule} acknowledged at ${p}`).toBeGreaterThanOrEqual(2);
    }
  });
});
