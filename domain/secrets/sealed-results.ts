/**
 * Idempotency records whose answer holds a secret are stored sealed (domain/secrets/envelope.ts).
 * This module is what the table layer and the idempotency middleware know of that: no crypto and
 * no KMS client, so only the functions that seal secrets (which import envelope.ts, which
 * registers the opener) carry them in their bundle.
 */
export interface ResultContext {
  tenant: string;
  resource: string;
}

/** What a sealed idempotency result is bound to: its tenant and its record. */
export const idempotencyResultContext = (tenantId: string, recordPk: string): ResultContext => ({ tenant: tenantId, resource: `idempotency/${recordPk}` });

type Opener = (sealed: never, context: ResultContext) => Promise<unknown>;
let opener: Opener | undefined;

export function registerResultOpener(open: Opener): void {
  opener = open;
}

/** Opens a sealed result; only a function that seals secrets stores one, and it has registered the opener. */
export function openSealedResult(sealed: unknown, context: ResultContext): Promise<unknown> {
  if (!opener) throw new Error('a sealed idempotency result, but no opener is loaded (domain/secrets/envelope.ts)');
  return opener(sealed as never, context);
}
