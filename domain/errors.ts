/**
 * Domain errors carry the HTTP status and the stable `code` that clients switch on
 * (API.md §3). The error middleware maps them to problem+json; anything else is a 500.
 */
export interface FieldError {
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly errors?: FieldError[],
  ) {
    super(message);
  }
}

/** At most this many field errors in one answer: a huge invalid list is not echoed back whole. */
export const MAX_FIELD_ERRORS = 100;

export const validationFailed = (errors: FieldError[], detail = 'The request is not valid.') =>
  new DomainError(400, 'validation_failed', detail, {}, errors.slice(0, MAX_FIELD_ERRORS));
export const invalidCursor = () => new DomainError(400, 'invalid_cursor', 'The cursor is not valid for this query.');
export const malformedJson = () => new DomainError(400, 'malformed_json', 'The body is not valid JSON.');
export const unauthenticated = () => new DomainError(401, 'unauthenticated', 'A valid bearer token is required.');
export const forbidden = (detail = 'Your role may not do this.') => new DomainError(403, 'forbidden', detail);
export const notFound = (what = 'resource') => new DomainError(404, 'not_found', `No such ${what}.`);
export const conflict = (code: string, detail: string, extra: Record<string, unknown> = {}) =>
  new DomainError(409, code, detail, extra);
export const versionMismatch = () =>
  new DomainError(412, 'version_mismatch', 'The resource has changed since the version given in If-Match.');
export const payloadTooLarge = (maxBytes = 256 * 1024) =>
  new DomainError(413, 'payload_too_large', `The body is larger than ${maxBytes >= 1024 * 1024 ? `${maxBytes / 1024 / 1024} MB` : `${maxBytes / 1024} KB`}.`);
export const unsupportedMediaType = () =>
  new DomainError(415, 'unsupported_media_type', 'The body must be application/json.');
