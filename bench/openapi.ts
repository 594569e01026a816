/**
 * The OpenAPI document (issue 10): `openapi.routes.coverage`, the routes the served document
 * describes ÷ the routes of functions/routes.ts it must describe (all but the reference page's
 * own `/docs` routes); target 1, a minimum. Also `openapi.operations` and
 * `openapi.response_schemas.missing` (operations still declared `{type: object}`), reported.
 *
 * No DynamoDB: the document is built from the operations, as the docs function builds it.
 * Registered in bench/run.ts (after the operations phase: loading every handler creates the
 * table client, which must see DynamoDB Local's endpoint first); runs alone: `npx tsx bench/openapi.ts`.
 */
import { isEntry, updateResults } from './standalone.ts';

export async function openApiFigures(figures: Record<string, number>, notes: string[]): Promise<void> {
  const { apiDocument, documentedRoutes } = await import('#functions/openapi/operations.ts');
  const { routeCoverage } = await import('#functions/openapi/document.ts');
  const { document, missingResponseSchemas } = await apiDocument();
  const routes = documentedRoutes();
  figures['openapi.routes.coverage'] = routeCoverage(document, routes);
  figures['openapi.operations'] = Object.values(document.paths).reduce((n, p) => n + Object.keys(p).length, 0);
  figures['openapi.response_schemas.missing'] = missingResponseSchemas.length;
  notes.push(
    `OpenAPI: ${figures['openapi.operations']} operations for ${routes.length} routes; ` +
      `${missingResponseSchemas.length} still without a response schema (declared {type: object}).`,
  );
}

if (isEntry(import.meta.url)) {
  const figures: Record<string, number> = {};
  const notes: string[] = [];
  await openApiFigures(figures, notes);
  console.log(JSON.stringify(figures, null, 2));
  for (const n of notes) console.log(n);
  if (process.argv.includes('--update-results')) await updateResults(figures);
  process.exit(0);
}
