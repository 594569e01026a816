/**
 * The operations of every HTTP function, by route key, and the document built from them:
 * once per container (the first request of a cold start pays for it), never per request.
 */
import { httpHandlers } from '#functions/http-handlers.ts';
import { httpFunctions, routes, type HttpFunctionName, type Route } from '#functions/routes.ts';
import { buildOpenApiDocument, type BuiltDocument, type DescribedOperation } from '#functions/openapi/document.ts';

export async function loadOperations(): Promise<Map<string, DescribedOperation>> {
  const out = new Map<string, DescribedOperation>();
  for (const name of Object.keys(httpFunctions) as HttpFunctionName[]) {
    const { handler } = await httpHandlers[name]();
    for (const [key, op] of Object.entries(handler.operations ?? {})) out.set(key, op as DescribedOperation);
  }
  return out;
}

let built: Promise<BuiltDocument> | undefined;

/** The API's document, built on first use. */
export function apiDocument(): Promise<BuiltDocument> {
  built ??= loadOperations().then((ops) => buildOpenApiDocument(routes, ops));
  // A failed build is not cached: the next request tries again (and logs again).
  built.catch(() => (built = undefined));
  return built;
}

/**
 * The routes the document must describe: all of the table but the reference page and its files
 * (`GET /docs`, `GET /docs/{asset}`), which are how a person reads the document, not API.
 */
export const documentedRoutes = (all: readonly Route[] = routes): Route[] => all.filter((r) => !(r.fn === 'docs' && !r.path.startsWith('/v1/')));
