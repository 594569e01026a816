/**
 * What both mail adapters (domain/mail/ses.ts, domain/mail/mailbox.ts) share with the port
 * (domain/mail/mailer.ts), apart from it: the port loads the SES adapter dynamically, and an
 * adapter importing the port back would pull the port's other imports into that dynamic
 * import (esbuild then keeps every export of the packages they reach, e.g. all of
 * client-dynamodb's commands and schemas).
 */

export interface MailAddress {
  address: string;
  name?: string;
}

/**
 * `send` throws this when the provider refused the message or the address for good (retrying will
 * not change it); any other error from `send` is worth another try later.
 */
export class MailRefused extends Error {
  override name = 'MailRefused';
}

/** `"名字" <a@b.c>` with the display name quoted (RFC 5322), or the bare address. */
export function formatAddress(a: MailAddress): string {
  if (!a.name) return a.address;
  return `"${a.name.replace(/[\\"]/g, (c) => `\\${c}`)}" <${a.address}>`;
}
