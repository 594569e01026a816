/** State stack: the table as domain/table/definition.ts describes it, kept safe; user pool, bus, secret. */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { TTL_ATTRIBUTE, indexes } from '#domain/table/definition.ts';
import { buildTestApp, resourcesOfType, type CfnResource, type CfnTemplate } from './support.ts';

let t: CfnTemplate;
let table: CfnResource;

beforeAll(() => {
  t = Template.fromStack(buildTestApp({ nag: false }).state).toJSON() as CfnTemplate;
  const tables = resourcesOfType(t, 'AWS::DynamoDB::GlobalTable');
  expect(tables).toHaveLength(1);
  table = tables[0]![1];
}, 180_000);

describe('table', () => {
  it('is retained on delete and replace, with deletion protection and point-in-time recovery', () => {
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    const replicas = table.Properties!.Replicas;
    expect(replicas).toHaveLength(1);
    expect(replicas[0].DeletionProtectionEnabled).toBe(true);
    expect(replicas[0].PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('is on-demand, keyed PK/SK, with a NEW_AND_OLD_IMAGES stream and TTL', () => {
    const p = table.Properties!;
    expect(p.BillingMode).toBe('PAY_PER_REQUEST');
    expect(p.KeySchema).toEqual([
      { AttributeName: 'PK', KeyType: 'HASH' },
      { AttributeName: 'SK', KeyType: 'RANGE' },
    ]);
    expect(p.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(p.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
  });

  it('has exactly the GSIs of the table definition, ALL projection, string keys', () => {
    const p = table.Properties!;
    const types = new Map<string, string>(p.AttributeDefinitions.map((a: any) => [a.AttributeName, a.AttributeType]));
    const gsis = new Map<string, any>(p.GlobalSecondaryIndexes.map((g: any) => [g.IndexName, g]));
    expect([...gsis.keys()].sort()).toEqual(Object.keys(indexes).sort());
    for (const [name, ix] of Object.entries(indexes)) {
      const g = gsis.get(name);
      expect(g.KeySchema, name).toEqual([
        { AttributeName: ix.pk, KeyType: 'HASH' },
        { AttributeName: ix.sk, KeyType: 'RANGE' },
      ]);
      expect(g.Projection, name).toEqual({ ProjectionType: 'ALL' });
      expect(types.get(ix.pk)).toBe('S');
      expect(types.get(ix.sk)).toBe('S');
    }
  });
});

describe('user pool', () => {
  const pool = () => resourcesOfType(t, 'AWS::Cognito::UserPool')[0]![1];

  it('has no self sign-up, a strong password policy and optional TOTP MFA', () => {
    const p = pool().Properties!;
    expect(p.AdminCreateUserConfig.AllowAdminCreateUserOnly).toBe(true);
    expect(p.Policies.PasswordPolicy).toMatchObject({
      RequireLowercase: true,
      RequireUppercase: true,
      RequireNumbers: true,
      RequireSymbols: true,
    });
    expect(p.Policies.PasswordPolicy.MinimumLength).toBeGreaterThanOrEqual(12);
    expect(p.MfaConfiguration).toBe('OPTIONAL');
    expect(p.EnabledMfas).toEqual(['SOFTWARE_TOKEN_MFA']);
    expect(p.UserPoolTier).toBe('PLUS');
    expect(p.UserPoolAddOns).toEqual({ AdvancedSecurityMode: 'ENFORCED' });
    expect(pool().DeletionPolicy).toBe('Retain');
  });

  it('has custom attributes tenantId (immutable), role and teamId', () => {
    const schema = new Map<string, any>(pool().Properties!.Schema.map((a: any) => [a.Name, a]));
    expect(schema.get('tenantId')).toMatchObject({ AttributeDataType: 'String', Mutable: false });
    expect(schema.get('role')).toMatchObject({ AttributeDataType: 'String', Mutable: true });
    expect(schema.get('teamId')).toMatchObject({ AttributeDataType: 'String', Mutable: true });
  });

  it('has a public client using SRP', () => {
    const clients = resourcesOfType(t, 'AWS::Cognito::UserPoolClient');
    expect(clients).toHaveLength(1);
    const p = clients[0]![1].Properties!;
    expect(p.GenerateSecret).toBe(false);
    expect(p.ExplicitAuthFlows).toContain('ALLOW_USER_SRP_AUTH');
    expect(p.ExplicitAuthFlows).not.toContain('ALLOW_USER_PASSWORD_AUTH');
  });
});

describe('bus and cursor secret', () => {
  it('has the crm-events bus and a generated cursor-signing secret', () => {
    const buses = resourcesOfType(t, 'AWS::Events::EventBus');
    expect(buses.map(([, r]) => r.Properties!.Name)).toEqual(['crm-events']);
    const secrets = resourcesOfType(t, 'AWS::SecretsManager::Secret');
    // The cursor-signing key and the marketing link-signing key.
    expect(secrets).toHaveLength(2);
    for (const [, s] of secrets) expect(s.Properties!.GenerateSecretString.PasswordLength).toBeGreaterThanOrEqual(32);
  });

  it('has one KMS key for the signing secrets\' data keys: rotated, retained, symmetric', () => {
    const keys = resourcesOfType(t, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    const [, key] = keys[0]!;
    expect(key.Properties!.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.Properties!.KeySpec ?? 'SYMMETRIC_DEFAULT').toBe('SYMMETRIC_DEFAULT');
  });
});
