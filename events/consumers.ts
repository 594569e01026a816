/**
 * Event consumers: each is functions/events/<name>.ts. In the cloud an EventBridge rule
 * on the bus invokes it for the listed detail-types; locally the in-process bus calls
 * the same handler. Consumers must be idempotent: delivery is at least once.
 */
import type { TableAction } from '#functions/routes.ts';
import { eventDescriptions } from '#events/descriptions.ts';

/** Every event type of the catalog, for a consumer that takes them all (its rule then matches on the source alone). */
export const ALL_EVENT_TYPES: string[] = Object.keys(eventDescriptions);

export interface Consumer {
  name: string;
  eventTypes: string[];
  tableActions: TableAction[];
  /** Sends mail through the mail port (SES in the cloud). */
  sendsMail?: boolean;
  /** Puts public-route links in what it sends (signs tokens, knows the public base URL). */
  signsLinks?: boolean;
  /** Opens per-tenant signing secrets sealed under the KMS secrets key (domain/secrets/envelope.ts): KMS Decrypt. */
  opensSecrets?: boolean;
  /** The function's time limit (default 30 s): a consumer that works through a batch stops and saves before it. */
  timeoutSeconds?: number;
}

export const consumers: Consumer[] = [
  {
    name: 'audit-log',
    eventTypes: [
      'account.created', 'account.updated', 'account.deleted',
      'contact.created', 'contact.updated', 'contact.deleted',
      'activity.logged', 'activity.updated', 'activity.deleted',
      'task.created', 'task.updated', 'task.completed', 'task.deleted',
      'lead.created', 'lead.updated', 'lead.deleted', 'lead.converted',
      'account.released', 'account.claimed', 'account.assigned', 'account.locked', 'account.unlocked',
      'quote.created', 'quote.updated', 'quote.sent', 'quote.accepted', 'quote.rejected',
      'order.created', 'order.updated', 'payment.received', 'target.set',
      'apikey.created', 'apikey.deleted',
    ],
    tableActions: ['dynamodb:PutItem'],
  },
  {
    // `task.assigned` notifications (domain/notifications/tasks.ts); idempotent by event id.
    name: 'task-notifications',
    eventTypes: ['task.created', 'task.updated'],
    tableActions: ['dynamodb:PutItem'],
  },
  {
    // The analytics aggregates (domain/analytics/consumer.ts): the record as it is now (GetItem),
    // its stored contribution (GetItem), the difference in one transaction (Put + Update); the
    // tenant's rules for its time zone (GetItem, and once per tenant the registry's PutItem).
    name: 'analytics',
    eventTypes: [
      'opportunity.created', 'opportunity.updated', 'opportunity.deleted',
      'order.created', 'order.updated', 'payment.received',
      'activity.logged', 'activity.updated', 'activity.deleted',
      'target.set',
      'account.created', 'lead.created', 'lead.converted',
      'account.released', 'account.claimed', 'account.assigned',
    ],
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  },
  {
    // Campaign stats from sales events (domain/marketing/stats-consumer.ts): a guard item and the
    // counter in one transaction (Put + Update); an opportunity's campaign link (GetItem, Put).
    name: 'campaign-stats',
    eventTypes: ['lead.created', 'lead.converted', 'opportunity.won'],
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  },
  {
    // Marketing workflows (domain/marketing/workflow-engine.ts): ONE Query of the event type's
    // index of enabled workflows, then per matching workflow a counter GetItem (count thresholds)
    // and one write of the run; immediate actions run through their own use cases (sendEmail
    // through the mail port, its claim a Put/Get/Update/Delete).
    name: 'workflows',
    eventTypes: ['email.opened', 'email.clicked', 'lead.created', 'form.submitted', 'opportunity.stageChanged', 'opportunity.won', 'ticket.created', 'ticket.solved'],
    tableActions: [
      'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem',
      'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem',
    ],
    sendsMail: true,
  },
  {
    // The knowledge-base search index (domain/service/kb-index.ts): ONE Query of the article's
    // partition, a lease (UpdateItem), the postings and term chunks (BatchWriteItem), the index
    // state (PutItem / DeleteItem, conditioned on the lease). Idempotent by the article's version.
    name: 'kb-index',
    eventTypes: ['kb.article.created', 'kb.article.updated', 'kb.article.deleted'],
    tableActions: ['dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
  },
  {
    // Satisfaction surveys (domain/service/surveys-csat.ts): the suppression entry (BatchGetItem),
    // the CSAT invitation (PutItem, conditioned: one per ticket), the tenant's mail settings
    // (GetItem), then the mail and the invitation's outcome (UpdateItem). Locally the mailbox's PutItem.
    name: 'surveys',
    eventTypes: ['ticket.solved'],
    tableActions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    sendsMail: true,
    signsLinks: true,
  },
  {
    // The service report (domain/service/service-report.ts), kept like the analytics aggregates: the
    // ticket as it is now (GetItem), its stored contribution (GetItem), the difference in one
    // transaction (Put + Update); the tenant's rules for its time zone (GetItem).
    name: 'service-report',
    eventTypes: ['ticket.created', 'ticket.updated', 'ticket.solved', 'ticket.commented', 'ticket.sla_breached', 'ticket.csat_answered'],
    tableActions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  },
  {
    // Outbound webhooks (domain/integrations/webhook-deliveries.ts): ONE Query of the tenant's webhooks,
    // ONE transaction of the new deliveries (a Put each when some exist), then per delivery its
    // outcome (UpdateItem) and, on a 410, the webhook's (UpdateItem). Sends over HTTPS (no VPC).
    name: 'webhooks',
    eventTypes: ALL_EVENT_TYPES,
    tableActions: ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    opensSecrets: true,
  },
  {
    // CSV imports (domain/integrations/import-runner.ts): the import's lease and progress (UpdateItem), its
    // row chunks (GetItem), each batch's row records (BatchGetItem), and every row through the create and
    // update use cases of accounts, contacts and leads (Get, Query, BatchGet, their transactions).
    // A run stops 20 s before its time is up; the import-runner job goes on with what is left.
    name: 'imports',
    eventTypes: ['import.created'],
    tableActions: [
      'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:BatchGetItem',
      'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem',
    ],
    timeoutSeconds: 300,
  },
];

export { EVENT_SOURCE } from '#events/catalog.ts';
