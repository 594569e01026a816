/**
 * Stateful resources, in their own stack so compute can be torn down and redeployed
 * freely: the single table, the user pool, the event bus, the cursor-signing secret.
 * The table is built from the same definition the local runtime and the tests use
 * (domain/table/definition.ts), so the three can never disagree.
 */
import { RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { TTL_ATTRIBUTE, createTableInput } from '#domain/table/definition.ts';

export const EVENT_BUS_NAME = 'crm-events';

export class StateStack extends Stack {
  public readonly table: dynamodb.TableV2;
  public readonly userPool: cognito.UserPool;
  public readonly userPoolClient: cognito.UserPoolClient;
  public readonly bus: events.EventBus;
  public readonly cursorSecret: secretsmanager.Secret;
  public readonly marketingTokenSecret: secretsmanager.Secret;
  /** Wraps the data keys of per-tenant signing secrets (domain/secrets/envelope.ts). */
  public readonly secretsKey: kms.Key;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    this.table = new dynamodb.TableV2(this, 'Table', {
      ...tableKeysFromDefinition(),
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      dynamoStream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: TTL_ATTRIBUTE,
    });

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      // Users are provisioned by tenant admins, never by self sign-up.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      // Plus plan with threat protection enforced: compromised-credential and
      // risky sign-in detection (cdk-nag AwsSolutions-COG8).
      featurePlan: cognito.FeaturePlan.PLUS,
      standardThreatProtectionMode: cognito.StandardThreatProtectionMode.FULL_FUNCTION,
      customAttributes: {
        // The tenant a user belongs to can never change: every key starts with it.
        tenantId: new cognito.StringAttribute({ minLen: 1, maxLen: 64, mutable: false }),
        role: new cognito.StringAttribute({ minLen: 1, maxLen: 32, mutable: true }),
        teamId: new cognito.StringAttribute({ minLen: 0, maxLen: 64, mutable: true }),
      },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is OPTIONAL (TOTP) rather than REQUIRED: tenants enrol their users gradually; threat protection ' +
        'is ENFORCED on the Plus plan, which challenges risky sign-ins even for users without MFA.',
    });

    this.userPoolClient = this.userPool.addClient('WebClient', {
      generateSecret: false,
      authFlows: { userSrp: true },
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
    });

    this.bus = new events.EventBus(this, 'Bus', { eventBusName: EVENT_BUS_NAME });

    this.cursorSecret = new secretsmanager.Secret(this, 'CursorSigningKey', {
      description: 'HMAC key that signs pagination cursors (integrity, not confidentiality).',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.cursorSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The cursor-signing key is read by each function container once at start; a rotation only ' +
        'invalidates outstanding pagination cursors, so it is rotated by hand (containers pick it up as they ' +
        'are replaced) rather than by a rotation Lambda.',
    });

    // Envelope encryption of forms' and webhooks' signing secrets: a data key per item from
    // GenerateDataKey, bound to the tenant and the item by the encryption context. Rotated yearly
    // by KMS (old versions still decrypt); retained, or every sealed secret would be lost.
    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: 'Wraps the per-item data keys of per-tenant signing secrets (forms, webhooks).',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.marketingTokenSecret = new secretsmanager.Secret(this, 'MarketingTokenKey', {
      description: 'HMAC key that signs the tokens of public marketing links (unsubscribe, open, click; later surveys).',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.marketingTokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The link-signing key is read by each function container once at start; rotating it would break every ' +
        'unsubscribe link in mail already sent (RFC 8058 expects them to keep working), so it is not rotated automatically.',
    });
  }
}

/** TableV2 key props derived from createTableInput(), the one table definition. */
function tableKeysFromDefinition(): Pick<
  dynamodb.TablePropsV2,
  'partitionKey' | 'sortKey' | 'globalSecondaryIndexes'
> {
  const input = createTableInput('unused');
  const types = new Map((input.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  const attr = (name: string | undefined): dynamodb.Attribute => {
    const t = name === undefined ? undefined : types.get(name);
    if (name === undefined || t === undefined) throw new Error(`table definition: no attribute ${name}`);
    const type =
      t === 'S' ? dynamodb.AttributeType.STRING : t === 'N' ? dynamodb.AttributeType.NUMBER : dynamodb.AttributeType.BINARY;
    return { name, type };
  };
  const keyOf = (schema: { AttributeName?: string; KeyType?: string }[] | undefined, kind: 'HASH' | 'RANGE') =>
    schema?.find((k) => k.KeyType === kind)?.AttributeName;

  const sk = keyOf(input.KeySchema, 'RANGE');
  return {
    partitionKey: attr(keyOf(input.KeySchema, 'HASH')),
    ...(sk === undefined ? {} : { sortKey: attr(sk) }),
    globalSecondaryIndexes: (input.GlobalSecondaryIndexes ?? []).map((gsi) => {
      if (gsi.Projection?.ProjectionType !== 'ALL') throw new Error(`index ${gsi.IndexName}: only ALL projection is supported`);
      const gsk = keyOf(gsi.KeySchema, 'RANGE');
      return {
        indexName: gsi.IndexName ?? '',
        partitionKey: attr(keyOf(gsi.KeySchema, 'HASH')),
        ...(gsk === undefined ? {} : { sortKey: attr(gsk) }),
        projectionType: dynamodb.ProjectionType.ALL,
      };
    }),
  };
}
