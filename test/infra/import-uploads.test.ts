/** The uploads bucket of large CSV imports (domain/integrations/upload-store.ts): its settings and the one function that may use it. */
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { httpFunctions, type HttpFunctionName } from '#functions/routes.ts';
import type { ApiStack } from '#infra/api-stack.ts';
import { allStatements, asArray, buildTestApp, resourcesOfType, type CfnTemplate } from './support.ts';

let t: CfnTemplate;
let api: ApiStack;
let bucketId: string;

beforeAll(() => {
  api = buildTestApp({ nag: false, context: { corsAllowOrigins: 'https://app.example.com' } }).api;
  t = Template.fromStack(api).toJSON() as CfnTemplate;
  bucketId = api.getLogicalId(api.importUploads.node.defaultChild as CfnBucket);
}, 180_000);

const s3Statements = () => allStatements(t).filter(({ statement }) => asArray<string>(statement.Action).some((a) => a.startsWith('s3:')));

describe('import uploads bucket', () => {
  it('is the only bucket: S3-managed encryption, no public access, a day of life, PUT and GET from the API origins, destroyed with the stack', () => {
    const buckets = resourcesOfType(t, 'AWS::S3::Bucket');
    expect(buckets.map(([id]) => id)).toEqual([bucketId]);
    const [, bucket] = buckets[0]!;
    const p = bucket.Properties!;
    expect(p.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
    expect(p.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(p.LifecycleConfiguration.Rules).toEqual([expect.objectContaining({ Status: 'Enabled', ExpirationInDays: 1 })]);
    expect(p.CorsConfiguration.CorsRules).toEqual([
      { AllowedMethods: ['PUT', 'GET'], AllowedOrigins: ['https://app.example.com'], AllowedHeaders: ['content-type'], MaxAge: 3600 },
    ]);
    expect(bucket.DeletionPolicy).toBe('Delete');
  });

  it('refuses requests without TLS', () => {
    const [, policy] = resourcesOfType(t, 'AWS::S3::BucketPolicy').find(([, r]) => JSON.stringify(r.Properties!.Bucket).includes(bucketId))!;
    const deny = asArray<any>(policy.Properties!.PolicyDocument.Statement).find((s) => s.Effect === 'Deny');
    expect(deny).toMatchObject({ Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Principal: { AWS: '*' } });
  });

  it('only the imports function may use it: PutObject and GetObject under imports/ and exports/, ListBucket (a missing key is then a 404, not a 403), nothing else; it knows the bucket by env', () => {
    // (The docs function's one other S3 statement reads its own assets in the bootstrap bucket: test/infra/api.test.ts.)
    const statements = s3Statements().filter(({ statement }) => !JSON.stringify(statement.Resource).includes('cdk-hnb659fds-assets'));
    expect(statements).toHaveLength(2);
    for (const { where, statement } of statements) {
      expect(where).toContain('HttpImports');
      expect(statement.Effect).toBe('Allow');
      expect(statement.Condition).toBeUndefined();
    }
    const [objects, listing] = statements.map(({ statement }) => statement);
    expect(asArray<string>(objects!.Action).sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(objects!.Resource).toEqual(
      ['/imports/*', '/exports/*'].map((prefix) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, prefix]] })),
    );
    expect(listing!.Action).toBe('s3:ListBucket');
    expect(listing!.Resource).toEqual({ 'Fn::GetAtt': [bucketId, 'Arn'] });

    for (const name of Object.keys(httpFunctions) as HttpFunctionName[]) {
      const fn = t.Resources[api.getLogicalId(api.httpHandlers[name].fn.node.defaultChild as CfnFunction)]!;
      const env = fn.Properties!.Environment?.Variables ?? {};
      if (name === 'imports') expect(env.IMPORT_UPLOADS_BUCKET).toEqual({ Ref: bucketId });
      else expect(env.IMPORT_UPLOADS_BUCKET, name).toBeUndefined();
    }
  });
});
