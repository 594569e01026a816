/**
 * Reading the served OpenAPI document in tests: what it declares for a route, status and media
 * type, and a validator for a declared schema (ajv for JSON Schema 2020-12, with formats).
 */
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Route } from '#functions/routes.ts';
import type { OpenApiDocument } from '#functions/openapi/document.ts';

// ajv and ajv-formats are CommonJS: their default export is the module object's `default`.
const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020').default as typeof import('ajv/dist/2020.js').default;
const addFormats = require('ajv-formats').default as typeof import('ajv-formats').default;

type Json = Record<string, any>;

/** `{$ref: '#/components/…'}` → the object it points at (one level: responses are refs to components). */
export function resolve<T = Json>(doc: OpenApiDocument, value: unknown): T {
  const ref = (value as { $ref?: string } | undefined)?.$ref;
  if (!ref) return value as T;
  let at: any = doc;
  for (const part of ref.replace(/^#\//, '').split('/')) at = at?.[part.replaceAll('~1', '/').replaceAll('~0', '~')];
  if (at === undefined) throw new Error(`unresolved $ref ${ref}`);
  return resolve<T>(doc, at);
}

export function operationOf(doc: OpenApiDocument, route: Pick<Route, 'method' | 'path'>): Json | undefined {
  return doc.paths[route.path]?.[route.method.toLowerCase()] as Json | undefined;
}

export class SchemaValidator {
  private readonly ajv;
  private readonly cache = new Map<string, ValidateFunction>();
  private readonly defs: Json;

  constructor(private readonly doc: OpenApiDocument) {
    this.ajv = new Ajv2020({ allErrors: true, strict: false });
    addFormats(this.ajv);
    // The document's components as $defs of every compiled schema: `#/components/schemas/X` → `#/$defs/X`.
    this.defs = this.local(doc.components.schemas) as Json;
  }

  private local(schema: unknown): unknown {
    return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"#/$defs/'));
  }

  /** Errors of `value` against `schema` (a schema of the document), or [] when it is valid. */
  errors(schema: unknown, value: unknown): ErrorObject[] {
    const key = JSON.stringify(schema);
    let validate = this.cache.get(key);
    if (!validate) {
      validate = this.ajv.compile({ ...(this.local(schema) as Json), $defs: this.defs });
      this.cache.set(key, validate);
    }
    return validate(value) ? [] : [...(validate.errors ?? [])];
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: unknown;
}

/**
 * What is wrong with `res` as an answer of `route` by the document: an undeclared status, an
 * undeclared media type, a required header it lacks, or a body its schema refuses. Empty when the
 * document tells the truth.
 */
export function mismatches(doc: OpenApiDocument, validator: SchemaValidator, route: Pick<Route, 'method' | 'path'>, res: Answer): string[] {
  const op = operationOf(doc, route);
  if (!op) return [`${route.method} ${route.path} is not in the document`];
  const declared = op.responses[String(res.status)];
  if (!declared) return [`status ${res.status} is not declared (declared: ${Object.keys(op.responses).join(', ')})`];
  const response = resolve(doc, declared);
  const missingHeaders = Object.entries((response.headers ?? {}) as Json)
    .filter(([name, header]) => resolve<Json>(doc, header).required && res.headers[name.toLowerCase()] === undefined)
    .map(([name]) => `status ${res.status} declares the required header ${name}, which the answer lacks`);
  if (missingHeaders.length) return missingHeaders;
  const mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (!response.content) return res.body === '' ? [] : [`status ${res.status} declares no body, got ${mediaType}: ${res.body.slice(0, 200)}`];
  const content = response.content[mediaType];
  if (!content) return [`status ${res.status} does not declare ${mediaType || 'no content type'} (declared: ${Object.keys(response.content).join(', ')})`];
  if (!/json/.test(mediaType)) return [];
  return validator.errors(content.schema, res.json).map((e) => `${mediaType} body${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}
