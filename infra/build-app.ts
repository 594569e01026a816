/**
 * Builds the CDK app: the state stack, the API and workers stacks fed by it, and the cdk-nag
 * AwsSolutions checks as a synth-time validation plugin. `infra/app.ts` synthesizes it;
 * the infra tests reuse it (with bundling skipped, except for one test).
 */
import { App } from 'aws-cdk-lib';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ApiStack } from './api-stack.ts';
import type { EntryResolver } from './stack-parts.ts';
import { StateStack } from './state-stack.ts';
import { WorkersStack } from './workers-stack.ts';

export interface BuildAppOptions {
  /** Bundle the Lambda code with esbuild (default true). False skips bundling in every stack. */
  bundle?: boolean;
  /** Register the cdk-nag AwsSolutions checks (default true). */
  nag?: boolean;
  /** Cloud assembly directory (default: CDK's choice, a temp dir outside the CLI). */
  outdir?: string;
  /** Extra context, e.g. `{ corsAllowOrigins: 'https://app.example.com' }`. */
  context?: Record<string, unknown>;
  /** Override where function entry files are found (tests only). */
  entry?: EntryResolver;
}

export interface CrmApp {
  app: App;
  state: StateStack;
  api: ApiStack;
  workers: WorkersStack;
}

export function buildApp(opts: BuildAppOptions = {}): CrmApp {
  const context: Record<string, unknown> = {
    // State is referenced by compute through CloudFormation exports (Fn::ImportValue), so the
    // state stack can't drop something compute still uses. Explicit here to lock in that
    // behaviour; cdk.json or `-c` may override it.
    '@aws-cdk/core:defaultCrossStackReferences': 'strong',
    ...opts.context,
  };
  if (opts.bundle === false) context['aws:cdk:bundling-stacks'] = [];
  const app = new App({ context, ...(opts.outdir === undefined ? {} : { outdir: opts.outdir }) });

  // Env-agnostic: the same templates deploy to any account and region.
  const state = new StateStack(app, 'CrmState', {
    description: 'CRM stateful resources: table, user pool, event bus, cursor key',
  });
  const shared = {
    table: state.table,
    bus: state.bus,
    cursorSecret: state.cursorSecret,
    marketingTokenSecret: state.marketingTokenSecret,
    secretsKey: state.secretsKey,
    ...(opts.entry === undefined ? {} : { entry: opts.entry }),
  };
  const api = new ApiStack(app, 'CrmApi', {
    description: 'CRM HTTP API: routes, authorizer, one function per resource group',
    ...shared,
    userPool: state.userPool,
    userPoolClient: state.userPoolClient,
  });
  api.addStackDependency(state);
  const workers = new WorkersStack(app, 'CrmWorkers', {
    description: 'CRM workers: scheduled jobs, event consumers, outbox relay, mail events',
    ...shared,
    publicBaseUrl: api.api.apiEndpoint,
  });
  workers.addStackDependency(api);

  if (opts.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, state, api, workers };
}
