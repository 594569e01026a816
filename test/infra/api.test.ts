/** HTTP API: every route from functions/routes.ts behind the Lambda authorizer (ID tokens and API keys), but /health, the public links and the API reference. */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { httpFunctions, routeKey, routes, type HttpFunctionName } from '#functions/routes.ts';
import { allStatements, asArray, buildTestApp, resourcesOfType, type CfnTemplate } from './support.ts';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import { DOCS_BUCKET, DOCS_FILES, DOCS_OBJECTS } from '#functions/openapi/assets.ts';
import type { ApiStack } from '#infra/api-stack.ts';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { CONTAINER_CACHE_TTL_SECONDS, GATEWAY_CACHE_TTL_SECONDS } from '#functions/auth/cache-ttl.ts';

let t: CfnTemplate;
let compute: ApiStack;

beforeAll(() => {
  compute = buildTestApp({ nag: false }).api;
  t = Template.fromStack(compute).toJSON() as CfnTemplate;
}, 180_000);

/** The logical id of the policy attached to a role (CDK's DefaultPolicy). */
const docsPolicyOf = (roleId: string) => resourcesOfType(t, 'AWS::IAM::Policy').find(([, p]) => asArray<any>(p.Properties!.Roles).some((r) => r.Ref === roleId))![0];

const routeResources = () => resourcesOfType(t, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties!);

describe('HTTP API routes', () => {
  it('has exactly one authorizer: a Lambda REQUEST authorizer, payload 2.0, simple responses, cached at most 60 s by the Authorization header', () => {
    const authorizers = resourcesOfType(t, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    const props = authorizers[0]![1].Properties!;
    expect(props.AuthorizerType).toBe('REQUEST');
    expect(props.AuthorizerPayloadFormatVersion).toBe('2.0');
    expect(props.EnableSimpleResponses).toBe(true);
    expect(props.IdentitySource).toEqual(['$request.header.Authorization']);
    // A deleted key must stop working within 60 s: API Gateway's cache plus the container's.
    expect(props.AuthorizerResultTtlInSeconds).toBe(GATEWAY_CACHE_TTL_SECONDS);
    expect(GATEWAY_CACHE_TTL_SECONDS + CONTAINER_CACHE_TTL_SECONDS).toBeLessThan(60);
    expect(JSON.stringify(props.AuthorizerUri)).toContain(compute.getLogicalId(compute.authorizerHandler.fn.node.defaultChild as CfnFunction));
  });

  it('configures the authorizer function with the user pool, its client and the container cache', () => {
    const fn = t.Resources[compute.getLogicalId(compute.authorizerHandler.fn.node.defaultChild as CfnFunction)]!;
    const env = fn.Properties!.Environment.Variables;
    expect(JSON.stringify(env.USER_POOL_ID)).toMatch(/UserPool/);
    expect(JSON.stringify(env.USER_POOL_CLIENT_ID)).toMatch(/UserPoolWebClient/);
    expect(env.AUTH_CACHE_TTL_SECONDS).toBe(String(CONTAINER_CACHE_TTL_SECONDS));
    // API Gateway may invoke it, from this API's authorizers only.
    const permissions = resourcesOfType(t, 'AWS::Lambda::Permission')
      .map(([, r]) => r.Properties!)
      .filter((p) => JSON.stringify(p.FunctionName).includes(`"${compute.getLogicalId(compute.authorizerHandler.fn.node.defaultChild as CfnFunction)}"`));
    expect(permissions).toHaveLength(1);
    expect(permissions[0]!.Principal).toBe('apigateway.amazonaws.com');
    expect(JSON.stringify(permissions[0]!.SourceArn)).toContain('/authorizers/');
  });

  it('declares every route of the route table with the authorizer, except the public ones', () => {
    const [authorizerId] = resourcesOfType(t, 'AWS::ApiGatewayV2::Authorizer')[0]!;
    const byKey = new Map(routeResources().map((p) => [p.RouteKey as string, p]));
    for (const r of routes) {
      const p = byKey.get(routeKey(r));
      expect(p, `missing route ${routeKey(r)}`).toBeDefined();
      if (r.public) {
        expect(p!.AuthorizationType ?? 'NONE', routeKey(r)).toBe('NONE');
        expect(p!.AuthorizerId, routeKey(r)).toBeUndefined();
        continue;
      }
      expect(p!.AuthorizationType, routeKey(r)).toBe('CUSTOM');
      expect(p!.AuthorizerId, routeKey(r)).toEqual({ Ref: authorizerId });
    }
  });

  it('sends each route to the function the route table names', () => {
    const integrationTarget = new Map<string, string>(); // integration logical id → function logical id
    for (const [id, r] of resourcesOfType(t, 'AWS::ApiGatewayV2::Integration')) {
      integrationTarget.set(id, r.Properties!.IntegrationUri['Fn::GetAtt'][0]);
    }
    const fnLogicalId = (name: HttpFunctionName) =>
      compute.getLogicalId(compute.httpHandlers[name].fn.node.defaultChild as CfnFunction);
    const byKey = new Map(routeResources().map((p) => [p.RouteKey as string, p]));
    for (const r of routes) {
      const target = byKey.get(routeKey(r))!.Target['Fn::Join'][1];
      expect(target[0]).toBe('integrations/');
      expect(integrationTarget.get(target[1].Ref), routeKey(r)).toBe(fnLogicalId(r.fn));
    }
    // One integration per HTTP function, plus /health.
    expect(integrationTarget.size).toBe(Object.keys(httpFunctions).length + 1);
  });

  it('GET /health, the public links (the `public` function) and the API reference (the `docs` function) are the only routes without authorization', () => {
    const all = routeResources();
    expect(all).toHaveLength(routes.length + 1);
    const open = all.filter((p) => p.AuthorizationType === undefined || p.AuthorizationType === 'NONE');
    const publicRoutes = routes.filter((r) => r.public);
    expect(publicRoutes.map(routeKey).sort()).toEqual([
      'GET /docs',
      'GET /docs/{asset}',
      'GET /s/{token}',
      'GET /t/c/{token}',
      'GET /t/o/{token}',
      'GET /u/{token}',
      'GET /v1/openapi.json',
      'POST /in/forms/{id}',
      'POST /s/{token}',
      'POST /u/{token}',
    ]);
    expect(publicRoutes.every((r) => r.fn === 'public' || r.fn === 'intake' || r.fn === 'docs')).toBe(true);
    expect(routes.filter((r) => (r.fn === 'public' || r.fn === 'intake' || r.fn === 'docs') && !r.public)).toEqual([]);
    expect(open.map((p) => p.RouteKey).sort()).toEqual(['GET /health', ...publicRoutes.map(routeKey)].sort());
  });

  it('the docs function knows where its S3 assets are (the document and the renderer), may only GetObject those objects, and has no table access', () => {
    const docs = t.Resources[compute.getLogicalId(compute.httpHandlers.docs.fn.node.defaultChild as CfnFunction)]!;
    const env = docs.Properties!.Environment.Variables;
    const assets = compute.docsFiles;
    expect(Object.keys(assets).sort()).toEqual([...DOCS_FILES].sort());
    // The bootstrap bucket cdk deploy uploads the assets to, and each file's object key.
    expect(env[DOCS_BUCKET]).toEqual({ 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' });
    const keys = JSON.parse(env[DOCS_OBJECTS]) as Record<string, string>;
    expect(keys).toEqual(Object.fromEntries(Object.entries(assets).map(([name, a]) => [name, a.s3ObjectKey])));
    // Only its read: s3:GetObject on exactly those objects, in one statement of its own role.
    const docsRole = compute.getLogicalId(compute.httpHandlers.docs.role.node.defaultChild as CfnRole);
    const s3 = allStatements(t).filter(({ statement }) => asArray<string>(statement.Action).some((a) => a.startsWith('s3:')) && JSON.stringify(statement.Resource).includes('cdk-hnb659fds-assets'));
    expect(s3).toHaveLength(1);
    const [{ where, statement }] = s3 as [(typeof s3)[number]];
    expect(where).toBe(docsPolicyOf(docsRole));
    expect(statement.Action).toBe('s3:GetObject');
    expect(asArray<any>(statement.Resource).map((r) => r['Fn::Join'][1].at(-1))).toEqual(Object.values(keys).map((k) => `/${k}`));
    expect(httpFunctions.docs.tableActions).toEqual([]);
  });

  it('lets API Gateway invoke each HTTP function through one permission scoped to this API, not one per route', () => {
    const permissions = resourcesOfType(t, 'AWS::Lambda::Permission')
      .map(([, r]) => r.Properties!)
      .filter((p) => p.Principal === 'apigateway.amazonaws.com');
    const fnLogicalId = (name: HttpFunctionName) =>
      compute.getLogicalId(compute.httpHandlers[name].fn.node.defaultChild as CfnFunction);
    for (const name of Object.keys(httpFunctions) as HttpFunctionName[]) {
      const mine = permissions.filter((p) => JSON.stringify(p.FunctionName).includes(`"${fnLogicalId(name)}"`));
      expect(mine, name).toHaveLength(1);
      // arn:…:execute-api:<region>:<account>:<this API's id>/*/*
      const sourceArn = JSON.stringify(mine[0]!.SourceArn);
      expect(sourceArn, name).toContain(compute.getLogicalId(compute.api.node.defaultChild as never));
      expect(sourceArn, name).toMatch(/\/\*\/\*"/);
    }
  });

  it('stays under CloudFormation\'s 500 resources per stack, with a margin', () => {
    // One stack held everything until it reached 460 with the service routes; the workers
    // (jobs, consumers) now have their own stack. Routes grow this one by one resource each.
    expect(Object.keys(t.Resources).length).toBeLessThanOrEqual(450);
  });

  it('logs access on the $default stage as JSON', () => {
    const stages = resourcesOfType(t, 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const p = stages[0]![1].Properties!;
    expect(p.StageName).toBe('$default');
    expect(p.AutoDeploy).toBe(true);
    const logGroupId = p.AccessLogSettings.DestinationArn['Fn::GetAtt'][0];
    expect(t.Resources[logGroupId]!.Type).toBe('AWS::Logs::LogGroup');
    expect(t.Resources[logGroupId]!.Properties!.RetentionInDays).toBeGreaterThan(0);
    const format = JSON.parse(p.AccessLogSettings.Format);
    expect(format.requestId).toBe('$context.requestId');
    expect(format.status).toBe('$context.status');
  });
});
