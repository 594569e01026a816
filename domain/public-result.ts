/**
 * What a public route's use case answers (an unsubscribe page, a survey, a tracking pixel): the
 * public-route function (functions/middleware/public-function.ts) renders it for a browser or a machine.
 */
export type PublicResult =
  /** `json`: what a client that asked for JSON gets instead of the page (default `{title}`). */
  | { kind: 'html'; status?: number; title: string; body: string; json?: unknown }
  | { kind: 'redirect'; location: string }
  | { kind: 'gif' }
  /** A machine's answer (`jsonOnly` routes). */
  | { kind: 'json'; status: number; body: unknown };
