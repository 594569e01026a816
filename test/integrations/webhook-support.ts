/** Webhook test helpers: domain events as the bus hands them to the `webhooks` consumer. */
import { monotonicFactory } from 'ulid';
import { eventCatalog, type DomainEvent, type EventType } from '#events/catalog.ts';

const nextId = monotonicFactory();

/** An event of `type` in `tenant` (ids strictly increasing, as the outbox's are over time). */
export function domainEvent(tenant: string, type: EventType, at = new Date()): DomainEvent {
  const id = nextId(at.getTime());
  return {
    id,
    type,
    version: eventCatalog()[type].version,
    tenantId: tenant,
    occurredAt: at.toISOString(),
    actor: { userId: 'root', role: 'admin' },
    entity: { type: type.split('.')[0]!, id: `rec-${id}` },
    data: { id: `rec-${id}`, version: 1 },
  };
}
