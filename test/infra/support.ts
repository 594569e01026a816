/**
 * Shared helpers for the infra tests: build the app with bundling skipped, and list the
 * function entry files the stacks expect.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp, type BuildAppOptions, type CrmApp } from '#infra/build-app.ts';
import { functionEntry } from '#infra/crm-function.ts';
import { httpFunctions } from '#functions/routes.ts';
import { schedules } from '#events/schedules.ts';
import { consumers } from '#events/consumers.ts';

const PLACEHOLDER = path.join(import.meta.dirname, 'fixtures', 'placeholder-handler.ts');

/** Every entry file the API and workers stacks bundle. */
export function expectedEntries(): string[] {
  return [
    ...Object.keys(httpFunctions).map((n) => functionEntry('http', n)),
    functionEntry('http', 'health'),
    functionEntry('auth', 'authorizer'),
    ...schedules.map((s) => functionEntry('jobs', s.name)),
    ...consumers.map((c) => functionEntry('events', c.name)),
    functionEntry('events', 'outbox-relay'),
    functionEntry('events', 'mail-events'),
  ];
}

export const missingEntries = () => expectedEntries().filter((f) => !existsSync(f));

/** The app with bundling skipped; missing entries point at a placeholder (the template is unaffected). */
export function buildTestApp(opts: Omit<BuildAppOptions, 'bundle' | 'entry'> = {}): CrmApp {
  return buildApp({
    bundle: false,
    outdir: mkdtempSync(path.join(os.tmpdir(), 'crm-cdk-')),
    entry: (kind, name) => {
      const real = functionEntry(kind, name);
      return existsSync(real) ? real : PLACEHOLDER;
    },
    ...opts,
  });
}

// ---- template helpers --------------------------------------------------------------

export interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, any>;
}
export type CfnTemplate = { Resources: Record<string, CfnResource>; Outputs?: Record<string, any> };

/**
 * The API and workers stacks seen as one template (resources and outputs), for checks over
 * every function whatever stack holds it. Logical ids are unique across the two (asserted).
 */
export function computeTemplate(app: CrmApp): CfnTemplate {
  const parts = [app.api, app.workers].map((st) => Template.fromStack(st).toJSON() as CfnTemplate);
  const merged: CfnTemplate = { Resources: {}, Outputs: {} };
  for (const part of parts) {
    for (const [id, r] of Object.entries(part.Resources)) {
      if (merged.Resources[id]) throw new Error(`logical id ${id} is in both compute stacks`);
      merged.Resources[id] = r;
    }
    Object.assign(merged.Outputs!, part.Outputs ?? {});
  }
  return merged;
}

/** A function's logical id in its own stack. */
export const logicalIdOf = (c: { node: { defaultChild?: unknown } } & IConstruct) =>
  Stack.of(c).getLogicalId(c.node.defaultChild as CfnElement);

export const resourcesOfType = (t: CfnTemplate, type: string): [string, CfnResource][] =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type);

export interface PolicyStatementJson {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  [k: string]: unknown;
}

export const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every policy statement in a template: identity policies, inline role policies, resource policies. */
export function allStatements(t: CfnTemplate): { where: string; statement: PolicyStatementJson }[] {
  const out: { where: string; statement: PolicyStatementJson }[] = [];
  const push = (where: string, doc: any) => {
    for (const s of asArray(doc?.Statement)) out.push({ where, statement: s as PolicyStatementJson });
  };
  for (const [id, r] of Object.entries(t.Resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') push(id, p.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role') for (const ip of asArray<any>(p.Policies)) push(`${id}/${ip.PolicyName}`, ip.PolicyDocument);
    if (['AWS::SQS::QueuePolicy', 'AWS::Events::EventBusPolicy', 'AWS::SecretsManager::ResourcePolicy'].includes(r.Type))
      push(id, p.PolicyDocument);
  }
  return out;
}
