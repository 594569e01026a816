/**
 * The HTTP API: its stage and access logs, the Lambda authorizer, one Lambda per resource group of
 * functions/routes.ts and every route of that table (the local runtime reads the same table,
 * so the cloud and `npm start` cannot drift). The workers (jobs, consumers, relay) are
 * CrmWorkers (workers-stack.ts): split so that neither stack nears CloudFormation's
 * 500-resource limit as routes are added.
 */
import path from 'node:path';
import { AssetHashType, BundlingOutput, CfnOutput, DockerImage, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { CONTAINER_CACHE_TTL_SECONDS, GATEWAY_CACHE_TTL_SECONDS } from '#functions/auth/cache-ttl.ts';
import { assetSource, DOCS_ASSETS, DOCS_BUCKET, DOCS_OBJECTS, OPENAPI_DOCUMENT } from '#functions/openapi/assets.ts';
import { httpFunctions, routes, type HttpFunctionName, type Route, type TableAction } from '#functions/routes.ts';
import { SHARED_KEY_PREFIXES } from '#domain/table/tenant-scope.ts';
import { buildOpenApiDocumentFile } from '#infra/bundling/openapi-document.ts';
import { CrmFunction, functionEntry, REPO_ROOT, type CrmFunctionProps } from './crm-function.ts';
import { contextList, pascal, type EntryResolver } from './stack-parts.ts';

export interface ApiStackProps extends StackProps {
  table: dynamodb.ITableV2;
  userPool: cognito.IUserPool;
  userPoolClient: cognito.IUserPoolClient;
  bus: events.IEventBus;
  cursorSecret: secretsmanager.ISecret;
  /** Signs the tokens of public links (domain/marketing/tokens.ts). */
  marketingTokenSecret: secretsmanager.ISecret;
  /** Wraps the data keys of per-tenant signing secrets (domain/secrets/envelope.ts). */
  secretsKey: kms.IKey;
  /**
   * Where each function's entry file is (default functions/<kind>/<name>.ts). Tests that
   * skip bundling may point missing entries at a fixture; the template is the same.
   */
  entry?: EntryResolver;
}

export class ApiStack extends Stack {
  public readonly api: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  public readonly httpHandlers: Record<HttpFunctionName, CrmFunction>;
  public readonly healthHandler: CrmFunction;
  public readonly authorizerHandler: CrmFunction;
  /** Large CSV files on their way to an import (domain/integrations/upload-store.ts). */
  public readonly importUploads: s3.Bucket;
  /** The docs function's files by name (functions/openapi/assets.ts DOCS_FILES), each an S3 asset. */
  public readonly docsFiles: Record<string, Asset>;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { table, bus, cursorSecret, userPool, userPoolClient, marketingTokenSecret, secretsKey } = props;
    const common = { table, bus, cursorSecret } satisfies Partial<CrmFunctionProps>;
    const entry = props.entry ?? functionEntry;

    // ---- HTTP API -------------------------------------------------------------------
    const corsOrigins: string[] = contextList(this, 'corsAllowOrigins') ?? ['*'];
    this.api = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: 'crm-api',
      createDefaultStage: false,
      // Auth is a bearer token in the Authorization header, never a cookie, so a wildcard
      // origin lets no other site ride a session. Narrow it with `-c corsAllowOrigins=...`.
      corsPreflight: {
        allowOrigins: corsOrigins,
        allowMethods: [
          apigwv2.CorsHttpMethod.GET,
          apigwv2.CorsHttpMethod.POST,
          apigwv2.CorsHttpMethod.PUT,
          apigwv2.CorsHttpMethod.PATCH,
          apigwv2.CorsHttpMethod.DELETE,
          apigwv2.CorsHttpMethod.OPTIONS,
        ],
        allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'if-match'],
        exposeHeaders: ['etag', 'location'],
        maxAge: Duration.hours(1),
      },
    });

    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention: logs.RetentionDays.THREE_MONTHS });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            responseLatency: '$context.responseLatency',
            integrationLatency: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
            userAgent: '$context.identity.userAgent',
          }),
        ),
      },
    });

    // One Lambda REQUEST authorizer for Cognito ID tokens and API keys alike (functions/auth/authorizer.ts):
    // API Gateway's JWT authorizer cannot read a key. It reads one item per key (GetItem) and nothing else.
    this.authorizerHandler = new CrmFunction(this, 'Authorizer', {
      ...common,
      name: 'authorizer',
      entry: entry('auth', 'authorizer'),
      description: 'Authorizer: Cognito ID tokens and API keys',
      environment: {
        USER_POOL_ID: userPool.userPoolId,
        USER_POOL_CLIENT_ID: userPoolClient.userPoolClientId,
        AUTH_CACHE_TTL_SECONDS: String(CONTAINER_CACHE_TTL_SECONDS),
      },
    });
    // It runs before any tenant is known: its own role, narrowed to the lookup items `APIKEY#<hash>`.
    this.authorizerHandler.grantTable(['dynamodb:GetItem'], { leadingKeys: [`${SHARED_KEY_PREFIXES.apiKeyLookup}*`] });
    const authorizer = new HttpLambdaAuthorizer('CrmAuthorizer', this.authorizerHandler.fn, {
      authorizerName: 'crm-authorizer',
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ['$request.header.Authorization'],
      resultsCacheTtl: Duration.seconds(GATEWAY_CACHE_TTL_SECONDS),
    });

    // Functions that sign or check public-link tokens get the key's ARN and may read that secret.
    const tokenEnv = { MARKETING_TOKEN_SECRET_ARN: marketingTokenSecret.secretArn };

    // The docs function's files (the OpenAPI document, the reference page's renderer): S3 assets it reads.
    this.docsFiles = docsFileAssets(this);
    const docsEnv = {
      [DOCS_BUCKET]: Object.values(this.docsFiles)[0]!.s3BucketName,
      [DOCS_OBJECTS]: JSON.stringify(Object.fromEntries(Object.entries(this.docsFiles).map(([name, a]) => [name, a.s3ObjectKey]))),
    };

    // Large CSV files (Lambda's 6 MB payload limit keeps them out of requests and answers): an
    // import's upload, PUT by the client to a presigned URL and read back by the imports function;
    // a large export, written by the imports function and fetched by the client from a presigned GET.
    // A file is only needed until its import has read it, or for its download: a day is plenty.
    this.importUploads = new s3.Bucket(this, 'ImportUploads', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(1), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      cors: [{ allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.GET], allowedOrigins: corsOrigins, allowedHeaders: ['content-type'], maxAge: 3600 }],
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.importUploads).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The bucket only holds CSV files for a day, written through presigned URLs the imports function issues to ' +
        'authenticated callers (logged in the API access log) and read back by that function alone; an access-log ' +
        'bucket of its own would add a second bucket that needs the same acknowledgement.',
    });
    const uploadsEnv = { IMPORT_UPLOADS_BUCKET: this.importUploads.bucketName };

    // A function that waits on something slow (a webhook receiver) names its own timeout; the default is 10 s.
    const timeoutOf = (name: HttpFunctionName) => (httpFunctions[name] as { timeoutSeconds?: number }).timeoutSeconds;
    const httpHandlers = {} as Record<HttpFunctionName, CrmFunction>;
    const integrations = {} as Record<HttpFunctionName, HttpLambdaIntegration>;
    for (const name of Object.keys(httpFunctions) as HttpFunctionName[]) {
      const def: {
        tableActions: readonly TableAction[];
        marketing?: boolean;
        docsAssets?: boolean;
        importUploads?: boolean;
        sharedKeys?: readonly (keyof typeof SHARED_KEY_PREFIXES)[];
        secrets?: 'seal' | 'open';
      } = httpFunctions[name];
      const fn = new CrmFunction(this, `Http${pascal(name)}`, {
        ...common,
        name,
        entry: entry('http', name),
        description: `HTTP: ${name}`,
        ...(def.marketing || def.importUploads || def.docsAssets
          ? { environment: { ...(def.marketing ? tokenEnv : {}), ...(def.importUploads ? uploadsEnv : {}), ...(def.docsAssets ? docsEnv : {}) } }
          : {}),
        ...(timeoutOf(name) ? { timeout: Duration.seconds(timeoutOf(name)!) } : {}),
      });
      // Table access only as the caller's tenant (a role assumed with the tenant's session tag);
      // a function with no table actions (docs) gets no table access at all.
      if (def.tableActions.length) fn.grantTenantScopedTable(def.tableActions, (def.sharedKeys ?? []).map((k) => SHARED_KEY_PREFIXES[k]));
      // The intake function learns a form's tenant from its pointer before it has a tenant: GetItem of `FORM#<id>` only.
      if (name === 'intake') fn.grantTable(['dynamodb:GetItem'], { leadingKeys: [`${SHARED_KEY_PREFIXES.formPointer}*`] });
      if (def.importUploads) grantImportUploads(fn, this.importUploads);
      if (def.docsAssets) grantDocsFiles(fn, Object.values(this.docsFiles));
      if (def.marketing) fn.grantSecretRead(marketingTokenSecret);
      if (def.secrets) fn.grantSecretsKey(secretsKey, def.secrets);
      httpHandlers[name] = fn;
      // One invoke permission per function (scoped to this API), not one per route: per-route
      // permissions alone would pass CloudFormation's 500-resource limit of the stack.
      integrations[name] = new HttpLambdaIntegration(`${pascal(name)}Integration`, fn.fn, { scopePermissionToRoute: false });
    }
    this.httpHandlers = httpHandlers;

    for (const route of routes) {
      const [added] = this.api.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration: integrations[route.fn],
        // Public routes prove themselves by the signed token in their path.
        ...(route.public ? {} : { authorizer }),
      });
      if (route.public && added) {
        Validations.of(added).acknowledge({ id: 'AwsSolutions-APIG4', reason: publicRouteReason(route) });
      }
    }

    // Unauthenticated liveness probe: not in the route table on purpose.
    this.healthHandler = new CrmFunction(this, 'HttpHealth', {
      ...common,
      name: 'health',
      entry: entry('http', 'health'),
      description: 'HTTP: unauthenticated health check',
    });
    const [healthRoute] = this.api.addRoutes({
      path: '/health',
      methods: [apigwv2.HttpMethod.GET],
      integration: new HttpLambdaIntegration('HealthIntegration', this.healthHandler.fn),
    });
    if (healthRoute) {
      Validations.of(healthRoute).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'GET /health is a deliberately public liveness probe for load balancers and uptime checks; it reads ' +
          'no data and returns a constant body. Every other route uses the Lambda authorizer (Cognito ID tokens, API keys).',
      });
    }

    new CfnOutput(this, 'ApiUrl', { value: this.stage.url });
    new CfnOutput(this, 'UserPoolId', { value: userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: userPoolClient.userPoolClientId });
  }
}

/**
 * PutObject and GetObject (the presigned URLs are signed with the function's role), under `imports/`
 * (uploads: presigned PUT, read back) and `exports/` (large exports: written, presigned GET) only.
 */
function grantImportUploads(fn: CrmFunction, bucket: s3.Bucket): void {
  const prefixes = ['imports', 'exports'];
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject'], resources: prefixes.map((p) => bucket.arnForObjects(`${p}/*`)) }));
  // Without ListBucket, S3 answers a GET of a missing key 403 AccessDenied instead of 404 NoSuchKey:
  // an upload never sent (or expired after its day) would be a 500 instead of 400 upload_missing.
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
  const bucketId = Stack.of(fn).getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
  for (const prefix of prefixes) {
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}/*]`,
      reason: `An object's key, ${prefix}/<tenantId>/<id>.csv, is made per request; the grant is the two object actions under ${prefix}/ of this one bucket.`,
    });
  }
}

/**
 * The docs function's files as S3 assets, uploaded by `cdk deploy` to the bootstrap bucket (no
 * custom resource): Swagger UI's files from node_modules, and the OpenAPI document, built at synth
 * time from the handlers (infra/bundling/openapi-document.ts; locally, like the other bundles, no Docker).
 */
function docsFileAssets(scope: Construct): Record<string, Asset> {
  const document = new Asset(scope, 'DocsOpenApiDocument', {
    // The folder only names the bundling's input; the file's bytes are its hash.
    path: path.join(REPO_ROOT, 'functions', 'openapi'),
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling always succeeds.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22'),
      outputType: BundlingOutput.SINGLE_FILE,
      local: {
        tryBundle(outputDir: string) {
          buildOpenApiDocumentFile(path.join(outputDir, OPENAPI_DOCUMENT));
          return true;
        },
      },
    },
  });
  const assets = Object.fromEntries(DOCS_ASSETS.map((a) => [a.name, new Asset(scope, `DocsFile${pascal(a.name.replace(/\W/g, '-'))}`, { path: assetSource(a) })]));
  return { [OPENAPI_DOCUMENT]: document, ...assets };
}

/** GetObject on exactly the docs function's objects: no listing, no other key of the bootstrap bucket. */
function grantDocsFiles(fn: CrmFunction, files: Asset[]): void {
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: files.map((a) => a.bucket.arnForObjects(a.s3ObjectKey)) }));
}

/** Why a public route has no authorizer: what proves its requests instead (cdk-nag AwsSolutions-APIG4). */
function publicRouteReason(route: Route): string {
  if (route.fn === 'docs') {
    return (
      `${route.method} ${route.path} is the API's own reference (the OpenAPI document, the page and its files): the same ` +
      'for every caller, no tenant data, no identity; integrators read it before they hold a token (api/integrations.md).'
    );
  }
  if (route.path.startsWith('/in/forms/')) {
    return (
      `${route.method} ${route.path} is posted by a website's or form service's backend that has no account; each request is ` +
      'authorized by a Standard Webhooks HMAC-SHA256 signature of its body with the form\'s secret (timestamp within 5 minutes, ' +
      'webhook-id replay protection), checked by its function before the body is read; unsigned requests get 401 and write nothing.'
    );
  }
  return (
    `${route.method} ${route.path} is opened from an email by someone with no account (unsubscribe, open pixel, ` +
    'click redirect, survey); it is authorized by an HMAC-signed token in the path, checked by its function, which has no identity.'
  );
}
