/**
 * The audit trail: every domain event, kept per entity (who changed what, when). It is
 * written by an event consumer, so it must be idempotent: the item's key is the event
 * id, and a redelivered event finds it there and changes nothing.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DomainEvent } from '#events/catalog.ts';
import { db, tableName } from '#domain/table/client.ts';
import { auditKey } from '#domain/table/keys.ts';

/** Answers whether this call applied the event (false: it had been applied before). */
export async function recordAuditEntry(event: DomainEvent): Promise<boolean> {
  try {
    await db.send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          ...auditKey(event.tenantId, event.entity.type, event.entity.id, event.id),
          tenantId: event.tenantId,
          entityType: 'AUDIT',
          eventId: event.id,
          eventType: event.type,
          actor: event.actor,
          occurredAt: event.occurredAt,
          data: event.data,
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return false;
    throw err;
  }
}
