/**
 * Merge tags (`{{name}}`, `{{email}}`, `{{company}}`, `{{owner}}`, `{{custom.<key>}}`,
 * `{{unsubscribeUrl}}`) in campaign and workflow templates: validated when a template is
 * saved, rendered per recipient (HTML-escaped in html, as is in text and subject; a
 * missing value renders as empty). Campaign bulk sends compile a template once into the
 * provider's simple `{{slot}}` form (compileBulkTemplate) and give each recipient its
 * slot values (bulkValues): SES substitutes inline template content without escaping,
 * so the html slots carry values escaped here.
 */
import { validationFailed, type FieldError } from '#domain/errors.ts';

export const BUILT_IN_TAGS = ['name', 'email', 'company', 'owner', 'unsubscribeUrl'] as const;
const CUSTOM_KEY = /^[a-z][A-Za-z0-9]{0,39}$/;
/** `{{ tag }}`: any run without braces between double braces. */
const TAG = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The values a recipient supplies. `custom` holds the record's custom fields. */
export interface MergeValues {
  name?: string | null;
  email?: string | null;
  company?: string | null;
  owner?: string | null;
  unsubscribeUrl?: string | null;
  custom?: Record<string, unknown>;
}

export type RenderMode = 'html' | 'text';

export function tagsIn(template: string): string[] {
  return [...template.matchAll(TAG)].map((m) => m[1]!);
}

function isKnown(tag: string, customKeys: ReadonlySet<string>): boolean {
  if ((BUILT_IN_TAGS as readonly string[]).includes(tag)) return true;
  if (!tag.startsWith('custom.')) return false;
  const key = tag.slice('custom.'.length);
  return CUSTOM_KEY.test(key) && customKeys.has(key);
}

/**
 * Throws 400 `validation_failed` naming `<pathPrefix>.<field>` for every unknown tag.
 * `customKeys`: the custom fields defined for the audience's entity.
 */
export function validateTemplate(
  fields: Record<string, string | null | undefined>,
  opts: { customKeys?: Iterable<string>; pathPrefix?: string } = {},
): void {
  const customKeys = new Set(opts.customKeys ?? []);
  const prefix = opts.pathPrefix ?? 'body';
  const errors: FieldError[] = [];
  for (const [field, template] of Object.entries(fields)) {
    if (!template) continue;
    for (const tag of new Set(tagsIn(template))) {
      if (!isKnown(tag, customKeys)) errors.push({ path: `${prefix}.${field}`, message: `unknown merge tag {{${tag}}}` });
    }
  }
  if (errors.length) throw validationFailed(errors, 'The template uses unknown merge tags.');
}

export function valueOf(tag: string, values: MergeValues): string {
  if (tag.startsWith('custom.')) return display(values.custom?.[tag.slice('custom.'.length)]);
  if ((BUILT_IN_TAGS as readonly string[]).includes(tag)) return display(values[tag as keyof Omit<MergeValues, 'custom'>]);
  return '';
}

function display(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(display).join(', ');
  return String(v);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Renders one template for one recipient: escaped in `html`, raw in `text` (and subjects). */
export function renderTemplate(template: string, values: MergeValues, mode: RenderMode): string {
  return template.replace(TAG, (_m, tag: string) => {
    const v = valueOf(tag, values);
    return mode === 'html' ? escapeHtml(v) : v;
  });
}

// ---------------------------------------------------------------------------------------
// Bulk form: one template, per-recipient slot values.

/** A slot name SES accepts as a replacement key: letters, digits, underscores. */
const slotOf = (tag: string, mode: RenderMode) => `${mode === 'html' ? 'h' : 't'}_${tag.replace(/[^A-Za-z0-9]/g, '_')}`;

export interface BulkTemplate {
  subject: string;
  html: string;
  text?: string;
  /** slot → [tag, mode]: how bulkValues fills each slot. */
  slots: Record<string, [string, RenderMode]>;
}

/**
 * Rewrites each merge tag as a `{{slot}}` the provider substitutes as is. Extra slots
 * (tracking URLs) may already be in `html` as `{{h_...}}`; list them in `extraSlots`.
 */
export function compileBulkTemplate(parts: { subject: string; html: string; text?: string | undefined }): BulkTemplate {
  const slots: BulkTemplate['slots'] = {};
  const compile = (template: string, mode: RenderMode) =>
    template.replace(TAG, (_m, tag: string) => {
      const slot = slotOf(tag, mode);
      slots[slot] = [tag, mode];
      return `{{${slot}}}`;
    });
  return {
    subject: compile(parts.subject, 'text'),
    html: compile(parts.html, 'html'),
    ...(parts.text !== undefined ? { text: compile(parts.text, 'text') } : {}),
    slots,
  };
}

export function bulkValues(template: BulkTemplate, values: MergeValues): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [slot, [tag, mode]] of Object.entries(template.slots)) {
    const v = valueOf(tag, values);
    out[slot] = mode === 'html' ? escapeHtml(v) : v;
  }
  return out;
}

/** Simple substitution of `{{slot}}` (what SES does with inline template content); unknown slots render empty. */
export function substitute(template: string, data: Record<string, string>): string {
  return template.replace(/\{\{([A-Za-z0-9_]+)\}\}/g, (_m, slot: string) => data[slot] ?? '');
}
