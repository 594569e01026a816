/** HTTP: campaigns (营销活动) and the marketing settings. */
import * as z from 'zod/mini';
import { campaignCreate, campaignPatch, CAMPAIGN_STATUSES, RECIPIENT_STATUSES, scheduleBody } from '#domain/marketing/campaign.ts';
import {
  cancelCampaign,
  createCampaign,
  deleteCampaign,
  getCampaign,
  listCampaigns,
  listRecipients,
  patchCampaign,
  scheduleCampaign,
  sendCampaign,
} from '#domain/marketing/campaigns.ts';
import { getSettings, putSettings, settingsBody } from '#domain/marketing/settings.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

export const handler = httpFunction({
  'GET /v1/marketing/settings': operation({ run: ({ ctx }) => getSettings(ctx) }),
  'PUT /v1/marketing/settings': operation({ body: settingsBody, run: ({ ctx, body }) => putSettings(ctx, body) }),

  'POST /v1/campaigns': operation({ body: campaignCreate, creates: '/v1/campaigns', run: ({ ctx, body }) => createCampaign(ctx, body) }),
  'GET /v1/campaigns': operation({
    query: z.strictObject({ ...listParams, status: z.optional(z.enum(CAMPAIGN_STATUSES)) }),
    run: ({ ctx, query, page }) => listCampaigns(ctx, query, page),
  }),
  'GET /v1/campaigns/{id}': operation({ run: ({ ctx, params }) => getCampaign(ctx, params.id!) }),
  'PATCH /v1/campaigns/{id}': operation({
    body: campaignPatch,
    run: ({ ctx, params, body, ifMatch }) => patchCampaign(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/campaigns/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteCampaign(ctx, params.id!, ifMatch) }),
  'POST /v1/campaigns/{id}/schedule': operation({
    body: scheduleBody,
    run: ({ ctx, params, body, ifMatch }) => scheduleCampaign(ctx, params.id!, body.sendAt, ifMatch),
  }),
  'POST /v1/campaigns/{id}/send': operation({ run: ({ ctx, params, ifMatch }) => sendCampaign(ctx, params.id!, ifMatch) }),
  'POST /v1/campaigns/{id}/cancel': operation({ run: ({ ctx, params, ifMatch }) => cancelCampaign(ctx, params.id!, ifMatch) }),
  'GET /v1/campaigns/{id}/recipients': operation({
    query: z.strictObject({ ...listParams, status: z.optional(z.enum(RECIPIENT_STATUSES)) }),
    run: ({ ctx, params, query, page }) => listRecipients(ctx, params.id!, query, page),
  }),
});
