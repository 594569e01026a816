/**
 * The marketing and service functions declare what they answer (`Operation.response`): the
 * schema the OpenAPI document publishes and the one `respond()` shapes the answer with.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import type { Operation } from '#functions/middleware/http-function.ts';
import type { PublicOperation } from '#functions/middleware/public-function.ts';
import { routeKey, routes, type HttpFunctionName } from '#functions/routes.ts';
import { httpHandlers } from '#local/registry.ts';
import { campaignView } from '#domain/marketing/campaign.ts';
import { ticketView } from '#domain/service/ticket.ts';
import { surveyView } from '#domain/service/surveys-nps.ts';
import { workflowView } from '#domain/marketing/workflow.ts';

const FUNCTIONS = ['fields', 'suppressions', 'segments', 'workflows', 'campaigns', 'kb', 'surveys', 'tickets'] as const satisfies HttpFunctionName[];

async function operationsOf<O>(fn: HttpFunctionName): Promise<Record<string, O>> {
  const { handler } = await httpHandlers[fn]();
  return (handler as unknown as { operations: Record<string, O> }).operations;
}

/** The document's JSON Schema of an answer; throws when part of it cannot be said in JSON Schema. */
const outputSchema = (schema: z.ZodMiniType) => z.toJSONSchema(schema, { io: 'output' });

describe.each(FUNCTIONS)('functions/http/%s.ts', (fn) => {
  it('every operation that answers a body declares its response; a DELETE (204) declares none', async () => {
    const operations = await operationsOf<Operation>(fn);
    const keys = routes.filter((r) => r.fn === fn).map(routeKey);
    expect(Object.keys(operations).sort()).toEqual([...keys].sort());
    const missing = keys.filter((k) => !k.startsWith('DELETE ') && !operations[k]!.response);
    const on204 = keys.filter((k) => k.startsWith('DELETE ') && operations[k]!.response);
    expect({ missing, on204 }).toEqual({ missing: [], on204: [] });
  });

  it('each response schema is whole in JSON Schema (nothing left unrepresentable)', async () => {
    const operations = await operationsOf<Operation>(fn);
    for (const [key, op] of Object.entries(operations)) {
      if (!op.response) continue;
      expect(() => outputSchema(op.response!), key).not.toThrow();
    }
  });
});

describe('the public pages', () => {
  it('declare their JSON answer where they have one (the tracking pixel and the click redirect have none; a signed form answers only JSON)', async () => {
    const operations = { ...(await operationsOf<PublicOperation>('public')), ...(await operationsOf<PublicOperation>('intake')) };
    const withJson = Object.entries(operations).filter(([, op]) => op.response).map(([key]) => key).sort();
    expect(withJson).toEqual(['GET /s/{token}', 'GET /u/{token}', 'POST /in/forms/{id}', 'POST /s/{token}', 'POST /u/{token}']);
    for (const key of withJson) expect(() => outputSchema(operations[key]!.response!), key).not.toThrow();
  });
});

describe('answers carry no internal attribute', () => {
  const keys = { PK: 'T#t#X#1', SK: 'X', tenantId: 't', entityType: 'X', typePk: 'T#t#X', typeSk: '1', duePk: 'DUE#X#0', dueSk: 'x', parentPk: 'p', parentSk: 's' };
  const stamps = { id: '01J', createdBy: 'u1', createdAt: '2026-12-01T00:00:00.000Z', updatedAt: '2026-12-01T00:00:00.000Z', version: 1 };

  it('a ticket: no keys, no stored SLA policy, pause total, first solve or owner', () => {
    const sla = { policy: 'normal', firstResponseDueAt: 'a', resolutionDueAt: 'b', firstResponseBreachedAt: null, resolutionBreachedAt: null, pausedSince: null };
    const ticket = {
      ...stamps, number: 1, subject: 's', accountId: null, contactId: null, priority: 'normal', type: 'question', channel: 'web', status: 'new',
      assigneeId: null, tags: [], firstRespondedAt: null, solvedAt: null, closedAt: null, csat: null, sla,
    };
    const stored = { ...ticket, ...keys, ownerPk: 'o', ownerSk: 'o', teamPk: 't', teamSk: 't', slaPolicy: { targets: {} }, slaPausedMs: 0, firstSolvedAt: null, ownerId: null, ownerTeamId: null };
    expect(ticketView.parse(stored)).toEqual(ticket);
  });

  it("a campaign: no keys, no dispatch job's freeze state or audience entity", () => {
    const stats = { recipients: 0, sent: 0, suppressed: 0, failed: 0, canceled: 0, bounced: 0, complained: 0, opened: 0, clicked: 0, unsubscribed: 0, leads: 0, convertedLeads: 0, wonAmount: 0 };
    const campaign = { ...stamps, name: 'n', segmentId: 's', subject: 's', html: '<p>', status: 'sending', sendAt: null, startedAt: null, completedAt: null, canceledAt: null, stats };
    expect(campaignView.parse({ ...campaign, ...keys, entity: 'contacts', frozen: true, freezeLeaseUntil: 1 })).toEqual(campaign);
  });

  it('a survey and a workflow: no keys, no freeze state', () => {
    const stats = { sent: 0, responses: 0, promoters: 0, passives: 0, detractors: 0, nps: null };
    const survey = { ...stamps, kind: 'nps', name: 'n', segmentId: 's', question: 'q', status: 'draft', sentAt: null, stats };
    expect(surveyView.parse({ ...survey, ...keys, frozen: false, freezeLeaseUntil: 1 })).toEqual(survey);
    const workflow = { ...stamps, name: 'n', trigger: { event: 'ticket.solved' }, actions: [{ type: 'addTag', tag: 'vip' }], enabled: true, enabledSince: null };
    expect(workflowView.parse({ ...workflow, ...keys })).toEqual(workflow);
  });
});
