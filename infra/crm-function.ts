/**
 * Every Lambda in the project is a CrmFunction: one place for the runtime, architecture,
 * bundling, logging and environment, so no function configuration is pasted twice.
 * Table access is granted per function with `grantTable(actions)`: exactly the declared
 * actions, on the table and its indexes only.
 */
import path from 'node:path';
import { AssetHashType, DockerImage, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { TableAction } from '#functions/routes.ts';
import { indexes } from '#domain/table/definition.ts';
import { TENANT_TAG, tenantKeyPrefix } from '#domain/table/tenant-scope.ts';
import { buildNormalizersLayer, NORMALIZER_LIBRARIES, NORMALIZERS_LAYER_PATH, normalizes } from '#infra/bundling/normalizers-layer.ts';

export const REPO_ROOT = path.join(import.meta.dirname, '..');

/** Absolute path of a function entry file: `functionEntry('http', 'accounts')` → functions/http/accounts.ts. */
export const functionEntry = (kind: 'http' | 'jobs' | 'events' | 'auth', name: string) =>
  path.join(REPO_ROOT, 'functions', kind, `${name}.ts`);

/**
 * Build-time substitutions (esbuild `alias`, resolved from REPO_ROOT), the same for CDK and
 * bench/bundles.ts. Only bundles see them: the local runtime and the tests run the sources.
 */
export const BUNDLE_ALIASES = {
  // The SDK's default credential chain (ini/SSO/process/web-identity files and the SSO/STS clients
  // they nest: ~28 KB gzip) finds nothing in Lambda but the environment, where Lambda puts the
  // role's credentials, and the environment is the chain's first link: same credentials, less code.
  '@aws-sdk/credential-provider-node': './infra/bundling/lambda-credentials.ts',
  // The normalizers' data: from the layer the functions that normalize have (infra/bundling/normalizers-layer.ts).
  '#domain/accounts/normalizer-libraries.ts': NORMALIZERS_LAYER_PATH,
  // The docs function's local files (the document built from every handler): deployed, it reads S3 (functions/openapi/docs-files.ts).
  '#functions/openapi/local-docs-files.ts': './infra/bundling/no-local-docs-files.ts',
} as const;

/**
 * How every function is bundled (NodejsFunction's esbuild options). bench/bundles.ts builds
 * with these same settings, so its sizes and start-up times are the deployed ones.
 */
export const BUNDLING = {
  minify: true,
  // No source map in the asset: a map of the bundled SDK alone is larger (gzip) than the issue's
  // whole budget per function (150 KB), and `--enable-source-maps` parses it at every cold start.
  // Frames in logs read `index.mjs:2:<column>` (line 1 is the banner); esbuild's output is deterministic,
  // so `npx tsx bench/bundles.ts --where <function> 2:<column>` rebuilds it with a map and names the source line.
  sourceMap: false,
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  mainFields: ['module', 'main'],
  // ESM bundles have no `require`; some CommonJS dependencies still call it.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  // Bundle the AWS SDK we pin in package-lock.json instead of relying on the
  // unpinned copy in the Lambda runtime (and bundled, it loads faster).
  bundleAwsSDK: true,
  // Layers' files (the normalizers'), loaded at run time from /opt.
  externalModules: ['/opt/*'] as string[],
  esbuildArgs: { '--alias': Object.entries(BUNDLE_ALIASES).map(([from, to]) => `${from}=${to}`) },
} satisfies nodejs.BundlingOptions;

/**
 * `BUNDLING` as esbuild's own build options, for code that runs esbuild directly the way
 * NodejsFunction does (the bundling test, bench/bundles.ts).
 */
export const ESBUILD_OPTIONS = {
  bundle: true,
  minify: BUNDLING.minify,
  sourcemap: BUNDLING.sourceMap,
  platform: 'node',
  format: BUNDLING.format,
  target: BUNDLING.target,
  mainFields: BUNDLING.mainFields,
  banner: { js: BUNDLING.banner },
  external: BUNDLING.externalModules,
  alias: BUNDLE_ALIASES,
} as const;

export interface CrmFunctionProps {
  /** Absolute path of the entry file; it must export `handler`. */
  entry: string;
  /** Shown in the console and used as POWERTOOLS_SERVICE_NAME suffix. */
  name: string;
  description?: string;
  table: dynamodb.ITableV2;
  bus: events.IEventBus;
  cursorSecret: secretsmanager.ISecret;
  /** Default 512 MB. */
  memorySize?: number;
  /** Default 10 seconds. */
  timeout?: Duration;
  reservedConcurrentExecutions?: number;
  environment?: Record<string, string>;
}

export class CrmFunction extends Construct {
  public readonly fn: nodejs.NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly role: iam.Role;
  /** The entry and whether the normalizers' layer is attached (bench/bundles.ts measures what each function ships). */
  public readonly bundleSource: Pick<CrmFunctionProps, 'entry' | 'name'> & { normalizersLayer?: boolean };
  private readonly table: dynamodb.ITableV2;

  constructor(scope: Construct, id: string, props: CrmFunctionProps) {
    super(scope, id);
    this.table = props.table;
    this.bundleSource = {
      entry: props.entry,
      name: props.name,
      ...(normalizes(props.entry) ? { normalizersLayer: true } : {}),
    };

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // Our own role instead of the AWSLambdaBasicExecutionRole managed policy: the function
    // may write to its own log group and nothing else until a grant says otherwise.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.name}`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.fn = new nodejs.NodejsFunction(this, 'Fn', {
      entry: props.entry,
      handler: 'handler',
      description: props.description ?? props.name,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      bundling: BUNDLING,
      environment: {
        TABLE_NAME: props.table.tableName,
        EVENT_BUS_NAME: props.bus.eventBusName,
        POWERTOOLS_SERVICE_NAME: `crm-${props.name}`,
        // The ARN, never the value: read at run time once per container (domain/secrets/runtime-secret.ts).
        CURSOR_SECRET_ARN: props.cursorSecret.secretArn,
        ...props.environment,
      },
    });
    if (normalizes(props.entry)) this.fn.addLayers(normalizersLayer(this));
    this.grantSecretRead(props.cursorSecret);
    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime this project standardises on (esbuild target node22; the toolchain and tests ' +
        'are pinned for Node 20-22). aws-cdk-lib 2.276 also knows Node.js 24; moving to it is a deliberate, ' +
        'tested upgrade of this one constant, not something to take implicitly.',
    });
  }

  /**
   * Adds ONE statement allowing exactly `actions` on the table and its indexes.
   * The indexes are named one by one from domain/table/definition.ts instead of
   * `<table>/index/*`: same reach (every index the table has), no wildcard, and a new
   * index in the definition is picked up automatically.
   * Returns the statement (tests and callers may inspect it).
   */
  grantTable(actions: readonly TableAction[], options: { leadingKeys?: readonly string[]; to?: iam.Role } = {}): iam.PolicyStatement {
    const statement = tableStatement(this.table, actions, options.leadingKeys);
    if (statement.actions.length === 0) throw new Error(`${this.node.path}: grantTable needs at least one action`);
    (options.to ?? this.role).addToPrincipalPolicy(statement);
    return statement;
  }

  /**
   * The KMS secrets key (domain/secrets/envelope.ts): `seal` may GenerateDataKey and Decrypt,
   * `open` only Decrypt; on that one key, and only with an encryption context naming a tenant.
   */
  grantSecretsKey(key: kms.IKey, use: 'seal' | 'open'): void {
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: use === 'seal' ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'],
        resources: [key.keyArn],
        conditions: { 'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['resource', 'tenant'] }, Null: { 'kms:EncryptionContext:tenant': 'false' } },
      }),
    );
    this.fn.addEnvironment('SECRETS_KMS_KEY_ID', key.keyArn);
  }

  /** GetSecretValue on this one secret, nothing else (no DescribeSecret, no other secret). */
  grantSecretRead(secret: secretsmanager.ISecret): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }));
  }

  /**
   * Table access only through credentials scoped to one tenant (issue 11 point 5): a role this
   * function assumes per tenant with the session tag `tenant=<tenantId>`
   * (domain/table/tenant-client.ts). The role allows exactly `actions`, on partition keys
   * `T#${aws:PrincipalTag/tenant}#*` only, plus the shared prefixes named. The function's own
   * role gets no table access here: only AssumeRole and TagSession on this role.
   */
  grantTenantScopedTable(actions: readonly TableAction[], sharedPrefixes: readonly string[] = []): iam.Role {
    const tenantRole = new iam.Role(this, 'TenantTableRole', {
      description: `Assumed per tenant by ${this.node.id}: table access within that tenant`,
      // The function's role, and only with the tenant tag set (sts:TagSession).
      assumedBy: new iam.SessionTagsPrincipal(new iam.ArnPrincipal(this.role.roleArn)).withConditions({
        StringLike: { [`aws:RequestTag/${TENANT_TAG}`]: '?*' },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [TENANT_TAG] },
      }),
      maxSessionDuration: Duration.hours(1),
    });
    this.grantTable(actions, { leadingKeys: [TENANT_LEADING_KEY, ...sharedPrefixes.map((p) => `${p}*`)], to: tenantRole });
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [tenantRole.roleArn] }));
    this.fn.addEnvironment('TENANT_TABLE_ROLE_ARN', tenantRole.roleArn);
    return tenantRole;
  }
}

/** The partition keys of the assuming tenant: every key of a tenant starts with `T#<tenantId>#` (domain/table/keys.ts). */
export const TENANT_LEADING_KEY = `${tenantKeyPrefix(`\${aws:PrincipalTag/${TENANT_TAG}}`)}*`;

/**
 * ONE statement allowing exactly `actions` on the table and its indexes, the indexes named one by
 * one from domain/table/definition.ts instead of `<table>/index/*` (same reach, no wildcard). With
 * `leadingKeys`, only on partition keys matching one of those patterns (dynamodb:LeadingKeys: the
 * table's partition key, or the index's for a Query on an index).
 */
export function tableStatement(table: dynamodb.ITableV2, actions: readonly TableAction[], leadingKeys?: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: [...new Set(actions)].sort(),
    resources: [table.tableArn, ...Object.keys(indexes).map((name) => `${table.tableArn}/index/${name}`)],
    ...(leadingKeys ? { conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...leadingKeys] } } } : {}),
  });
}

/** The stack's one normalizers layer (created on first use), bundled locally like the functions (no Docker). */
function normalizersLayer(scope: Construct): lambda.ILayerVersion {
  const stack = Stack.of(scope);
  // The stack's name in the id: logical ids stay unique across the compute stacks (test/infra/support.ts).
  const id = `NormalizersLayer${stack.node.id}`;
  const existing = stack.node.tryFindChild(id) as lambda.LayerVersion | undefined;
  if (existing) return existing;
  return new lambda.LayerVersion(stack, id, {
    description: 'Phone and domain normalizer data: libphonenumber-js (min metadata) and tldts (public suffix list)',
    compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
    compatibleArchitectures: [lambda.Architecture.ARM_64],
    code: lambda.Code.fromAsset(path.dirname(NORMALIZER_LIBRARIES), {
      // The bundle's bytes are the hash: they change with the module and with the packages' versions.
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // Never pulled: local bundling always succeeds (esbuild is a dependency), as NodejsFunction's does here.
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22'),
        local: {
          tryBundle(outputDir: string) {
            buildNormalizersLayer(outputDir, { ...ESBUILD_OPTIONS, mainFields: [...ESBUILD_OPTIONS.mainFields] });
            return true;
          },
        },
      },
    }),
  });
}
