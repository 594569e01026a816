/**
 * The baseline of `init.<function>.ms` (issue 11 point 6): the DynamoDB document client, created
 * at load exactly as every function creates it (domain/table/client.ts), and nothing else.
 */
import { db } from '#domain/table/client.ts';

export const handler = async () => ({ statusCode: 204, body: typeof db.send });
