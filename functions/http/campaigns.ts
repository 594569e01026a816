/** HTTP: campaigns (营销活动) and the marketing settings. */
import * as z from 'zod/mini';
import {
  campaignCreate,
  campaignListItem,
  campaignPatch,
  campaignView,
  CAMPAIGN_STATUSES,
  recipientView,
  RECIPIENT_STATUSES,
  scheduleBody,
} from '#domain/marketing/campaign.ts';
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
import { getSettings, putSettings, settingsBody, settingsView } from '#domain/marketing/settings.ts';
import { pageOf } from '#domain/fields.ts';
import { httpFunction, operation } from '#functions/middleware/http-function.ts';
import { listParams } from '#functions/middleware/request.ts';

export const handler = httpFunction({
  'GET /v1/marketing/settings': operation({ response: settingsView, run: ({ ctx }) => getSettings(ctx) }),
  'PUT /v1/marketing/settings': operation({ body: settingsBody, response: settingsView, run: ({ ctx, body }) => putSettings(ctx, body) }),

  'POST /v1/campaigns': operation({ body: campaignCreate, creates: '/v1/campaigns', response: campaignView, run: ({ ctx, body }) => createCampaign(ctx, body) }),
  'GET /v1/campaigns': operation({
    query: z.lazy(() => z.strictObject({ ...listParams(), status: z.optional(z.enum(CAMPAIGN_STATUSES)) })),
    response: z.lazy(() => pageOf(campaignListItem)),
    run: ({ ctx, query, page }) => listCampaigns(ctx, query, page),
  }),
  'GET /v1/campaigns/{id}': operation({ response: campaignView, run: ({ ctx, params }) => getCampaign(ctx, params.id!) }),
  'PATCH /v1/campaigns/{id}': operation({
    body: campaignPatch,
    response: campaignView,
    run: ({ ctx, params, body, ifMatch }) => patchCampaign(ctx, params.id!, body, ifMatch),
  }),
  'DELETE /v1/campaigns/{id}': operation({ run: ({ ctx, params, ifMatch }) => deleteCampaign(ctx, params.id!, ifMatch) }),
  'POST /v1/campaigns/{id}/schedule': operation({
    body: scheduleBody,
    response: campaignView,
    run: ({ ctx, params, body, ifMatch }) => scheduleCampaign(ctx, params.id!, body.sendAt, ifMatch),
  }),
  'POST /v1/campaigns/{id}/send': operation({ response: campaignView, run: ({ ctx, params, ifMatch }) => sendCampaign(ctx, params.id!, ifMatch) }),
  'POST /v1/campaigns/{id}/cancel': operation({ response: campaignView, run: ({ ctx, params, ifMatch }) => cancelCampaign(ctx, params.id!, ifMatch) }),
  'GET /v1/campaigns/{id}/recipients': operation({
    query: z.lazy(() => z.strictObject({ ...listParams(), status: z.optional(z.enum(RECIPIENT_STATUSES)) })),
    response: z.lazy(() => pageOf(recipientView)),
    run: ({ ctx, params, query, page }) => listRecipients(ctx, params.id!, query, page),
  }),
});
