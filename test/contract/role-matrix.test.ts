/**
 * Roles and visibility (API.md §4), as a table: for every route and every role, what
 * happens to a record owned by rep alice (team east). Built as data and looped over;
 * every route of functions/routes.ts must have a row, so a new route cannot ship
 * without its access rules being written down here.
 *
 * Callers (one tenant):
 *   admin    – root
 *   manager  – mia, manager of alice's team (east)
 *   rep      – bob, another rep of the same team: alice's records are not his (404, not 403)
 *   support  – sam: reads accounts and contacts tenant-wide, changes none (403)
 *   marketer – mark: same as support for accounts and contacts
 *   otherManager – max, manager of team west: alice's records are outside his team (404)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes as routes } from '#test/support/fixtures.ts';
import type { Role } from '#domain/identity.ts';
import {
  api,
  bodyFor,
  collectionOf,
  expectFieldError,
  expectProblem,
  fetchRecord,
  hasBody,
  hasIdParam,
  isList,
  keyOf,
  listAll,
  seederFor,
  seedRefs,
  send,
  SUBRESOURCE_OBJECTS,
  ACTION_RESULT,
  NOTHING_TO_READ_BACK,
  urlOf,
  type Caller,
  type Refs,
} from '#test/support/fixtures.ts';

const T = 'roles';
const alice: Caller = { tenant: T, user: 'alice', role: 'rep', team: 'east' };
const callers = {
  admin: { tenant: T, user: 'root', role: 'admin' },
  manager: { tenant: T, user: 'mia', role: 'manager', team: 'east' },
  rep: { tenant: T, user: 'bob', role: 'rep', team: 'east' },
  support: { tenant: T, user: 'sam', role: 'support' },
  marketer: { tenant: T, user: 'mark', role: 'marketer' },
  otherManager: { tenant: T, user: 'max', role: 'manager', team: 'west' },
} satisfies Record<string, Caller>;
type Who = keyof typeof callers;
const ROLES_REQUIRED: Role[] = ['admin', 'manager', 'rep', 'support', 'marketer'];
const WHO = Object.keys(callers) as Who[];
const wes: Caller = { tenant: T, user: 'wes', role: 'rep', team: 'west' };

/**
 * Expected outcome. A status alone, or for lists also whether alice's record is in the
 * caller's list (`lists`). `own` is the outcome on the caller's OWN record, for the
 * personal collections (activities, tasks) that every role may keep.
 */
interface Expect {
  status: number;
  lists?: boolean;
  own?: number;
}
type Row = Record<Who, Expect>;
const s = (status: number, extra: Omit<Expect, 'status'> = {}): Expect => ({ status, ...extra });

const matrix: Record<string, Row> = {
  // accounts: customers; support and marketers read them tenant-wide but change none.
  'POST /v1/accounts': { admin: s(201), manager: s(201), rep: s(201), support: s(403), marketer: s(403), otherManager: s(201) },
  'GET /v1/accounts': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: false }),
    support: s(200, { lists: true }),
    marketer: s(200, { lists: true }),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/accounts/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(200), marketer: s(200), otherManager: s(404) },
  'PATCH /v1/accounts/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'DELETE /v1/accounts/{id}': { admin: s(204), manager: s(204), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'GET /v1/accounts/{id}/360': { admin: s(200), manager: s(200), rep: s(404), support: s(200), marketer: s(200), otherManager: s(404) },
  // merge (the caller's spare account into alice's): managers within their team and admins.
  // Visibility first: a target the caller may not open is a 404 for every role (a rep on its
  // own account: 403); support and marketers read accounts, so theirs is the role's 403.
  'POST /v1/accounts/{id}/merge': {
    admin: s(200),
    manager: s(200),
    rep: s(404, { own: 403 }),
    support: s(403),
    marketer: s(403),
    otherManager: s(404),
  },
  // duplicate search: every role (support and marketers read customers tenant-wide anyway).
  'GET /v1/duplicates': { admin: s(200), manager: s(200), rep: s(200), support: s(200), marketer: s(200), otherManager: s(200) },

  // contacts: the same rules as accounts.
  'POST /v1/contacts': { admin: s(201), manager: s(201), rep: s(201), support: s(403), marketer: s(403), otherManager: s(201) },
  'GET /v1/contacts': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: false }),
    support: s(200, { lists: true }),
    marketer: s(200, { lists: true }),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/contacts/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(200), marketer: s(200), otherManager: s(404) },
  'PATCH /v1/contacts/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'DELETE /v1/contacts/{id}': { admin: s(204), manager: s(204), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },

  // activities: personal; anyone logs their own. Alice's activity is on alice's account, which
  // support and marketers may open, so they may read it (as in its Customer 360) but not
  // change it: a record the caller can see and may not change is a 403 (§3), not a 404.
  'POST /v1/activities': { admin: s(201), manager: s(201), rep: s(201), support: s(201), marketer: s(201), otherManager: s(201) },
  'GET /v1/activities': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: false }),
    support: s(200, { lists: false }),
    marketer: s(200, { lists: false }),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/activities/{id}': {
    admin: s(200, { own: 200 }),
    manager: s(200, { own: 200 }),
    rep: s(404, { own: 200 }),
    support: s(200, { own: 200 }),
    marketer: s(200, { own: 200 }),
    otherManager: s(404, { own: 200 }),
  },
  'PATCH /v1/activities/{id}': {
    admin: s(200, { own: 200 }),
    manager: s(200, { own: 200 }),
    rep: s(404, { own: 200 }),
    support: s(403, { own: 200 }),
    marketer: s(403, { own: 200 }),
    otherManager: s(404, { own: 200 }),
  },
  'DELETE /v1/activities/{id}': {
    admin: s(204, { own: 204 }),
    manager: s(204, { own: 204 }),
    rep: s(404, { own: 204 }),
    support: s(403, { own: 204 }),
    marketer: s(403, { own: 204 }),
    otherManager: s(404, { own: 204 }),
  },

  // tasks: personal; visible to the assignee, whoever created it, the assignee's manager, admins.
  'POST /v1/tasks': { admin: s(201), manager: s(201), rep: s(201), support: s(201), marketer: s(201), otherManager: s(201) },
  'GET /v1/tasks': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: false }),
    support: s(200, { lists: false }),
    marketer: s(200, { lists: false }),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/tasks/{id}': {
    admin: s(200, { own: 200 }),
    manager: s(200, { own: 200 }),
    rep: s(404, { own: 200 }),
    support: s(404, { own: 200 }),
    marketer: s(404, { own: 200 }),
    otherManager: s(404, { own: 200 }),
  },
  'PATCH /v1/tasks/{id}': {
    admin: s(200, { own: 200 }),
    manager: s(200, { own: 200 }),
    rep: s(404, { own: 200 }),
    support: s(404, { own: 200 }),
    marketer: s(404, { own: 200 }),
    otherManager: s(404, { own: 200 }),
  },
  'DELETE /v1/tasks/{id}': {
    admin: s(204, { own: 204 }),
    manager: s(204, { own: 204 }),
    rep: s(404, { own: 204 }),
    support: s(404, { own: 204 }),
    marketer: s(404, { own: 204 }),
    otherManager: s(404, { own: 204 }),
  },

  // leads: sales records, plus marketing, whose campaigns produce them: marketers read every lead
  // and create leads (changing only those they still own), support has no business with them (403).
  // Converting creates customers: sales roles only.
  'POST /v1/leads': { admin: s(201), manager: s(201), rep: s(201), support: s(403), marketer: s(201), otherManager: s(201) },
  'GET /v1/leads': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: false }),
    support: s(403),
    marketer: s(200, { lists: true }),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/leads/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(200), otherManager: s(404) },
  'PATCH /v1/leads/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'DELETE /v1/leads/{id}': { admin: s(204), manager: s(204), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'POST /v1/leads/{id}/convert': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },

  // quotes: visible to whoever may open the opportunity (owner, its manager, admins); support and
  // marketers 403 (API.md §4). Each action route starts from the state it needs (a sent quote to accept).
  'POST /v1/opportunities/{id}/quotes': { admin: s(201), manager: s(201), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'GET /v1/opportunities/{id}/quotes': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'GET /v1/quotes/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'PATCH /v1/quotes/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'POST /v1/quotes/{id}/send': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'POST /v1/quotes/{id}/accept': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'POST /v1/quotes/{id}/reject': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'POST /v1/quotes/{id}/order': { admin: s(201), manager: s(201), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },

  // orders: sales records (API.md §4: support and marketers 403); visible to the owner (the
  // seller credited), the owner's manager, admins, and whoever holds the account.
  'POST /v1/orders': { admin: s(201), manager: s(201), rep: s(201), support: s(403), marketer: s(403), otherManager: s(201) },
  'GET /v1/orders': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: false }),
    support: s(403),
    marketer: s(403),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/orders/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'PATCH /v1/orders/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'POST /v1/orders/{id}/payments': { admin: s(201), manager: s(201), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'GET /v1/orders/{id}/payments': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },

  // opportunities: sales records, visible like accounts (owner, the owner's team, admins);
  // support and marketers 403 on every route (API.md §4), even where they read the account.
  'POST /v1/opportunities': { admin: s(201), manager: s(201), rep: s(201), support: s(403), marketer: s(403), otherManager: s(201) },
  'GET /v1/opportunities': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: false }),
    support: s(403),
    marketer: s(403),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/opportunities/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'PATCH /v1/opportunities/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'DELETE /v1/opportunities/{id}': { admin: s(204), manager: s(204), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'GET /v1/opportunities/{id}/history': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },

  // pipelines: tenant settings (no customer data): every role reads them; admins alone change them.
  'GET /v1/pipelines': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: true }),
    support: s(200, { lists: true }),
    marketer: s(200, { lists: true }),
    otherManager: s(200, { lists: true }),
  },
  'POST /v1/pipelines': { admin: s(201), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/pipelines/{id}': { admin: s(200), manager: s(200), rep: s(200), support: s(200), marketer: s(200), otherManager: s(200) },
  'PATCH /v1/pipelines/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'DELETE /v1/pipelines/{id}': { admin: s(204), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },

  // workflows (marketing.md): marketers and admins manage them; every other role 403, reads included.
  'POST /v1/workflows': { admin: s(201), manager: s(403), rep: s(403), support: s(403), marketer: s(201), otherManager: s(403) },
  'GET /v1/workflows': { admin: s(200, { lists: true }), manager: s(403), rep: s(403), support: s(403), marketer: s(200, { lists: true }), otherManager: s(403) },
  'GET /v1/workflows/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'PATCH /v1/workflows/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'DELETE /v1/workflows/{id}': { admin: s(204), manager: s(403), rep: s(403), support: s(403), marketer: s(204), otherManager: s(403) },
  'GET /v1/workflows/{id}/runs': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },

  // targets: set by admins (anyone) and managers (their team and its reps, not themselves: the
  // body names the caller itself, so only the admin may); read by sales roles, each its own scope.
  'PUT /v1/targets/{period}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/targets/{period}': { admin: s(200), manager: s(200), rep: s(200), support: s(403), marketer: s(403), otherManager: s(200) },

  // the public pool (API.md §6): every role opens and lists pool accounts (reps and managers
  // without contact details); sales roles claim; managers (to themselves or their team) and
  // admins assign; the owner, its manager and admins release, lock and unlock; everyone reads
  // the rules, admins alone change them.
  'GET /v1/pool': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: true }),
    support: s(200, { lists: true }),
    marketer: s(200, { lists: true }),
    otherManager: s(200, { lists: true }),
  },
  'GET /v1/pool/rules': { admin: s(200), manager: s(200), rep: s(200), support: s(200), marketer: s(200), otherManager: s(200) },
  'PUT /v1/pool/rules': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'POST /v1/pool/{id}/claim': { admin: s(200), manager: s(200), rep: s(200), support: s(403), marketer: s(403), otherManager: s(200) },
  'POST /v1/pool/{id}/assign': { admin: s(200), manager: s(200), rep: s(403), support: s(403), marketer: s(403), otherManager: s(200) },
  'POST /v1/accounts/{id}/release': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'POST /v1/accounts/{id}/lock': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },
  'POST /v1/accounts/{id}/unlock': { admin: s(200), manager: s(200), rep: s(404), support: s(403), marketer: s(403), otherManager: s(404) },

  // notifications: each user's own and nobody else's (an admin's neither): 404 on alice's.
  'GET /v1/notifications': {
    admin: s(200, { lists: false }),
    manager: s(200, { lists: false }),
    rep: s(200, { lists: false }),
    support: s(200, { lists: false }),
    marketer: s(200, { lists: false }),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/notifications/{id}': {
    admin: s(404, { own: 200 }),
    manager: s(404, { own: 200 }),
    rep: s(404, { own: 200 }),
    support: s(404, { own: 200 }),
    marketer: s(404, { own: 200 }),
    otherManager: s(404, { own: 200 }),
  },
  'POST /v1/notifications/{id}/read': {
    admin: s(404, { own: 200 }),
    manager: s(404, { own: 200 }),
    rep: s(404, { own: 200 }),
    support: s(404, { own: 200 }),
    marketer: s(404, { own: 200 }),
    otherManager: s(404, { own: 200 }),
  },

  // analytics (api/analytics.md): sales roles, each in its default scope (admin: the tenant;
  // manager: its team; rep: itself); support and marketers never see the sales figures.
  'GET /v1/dashboard': { admin: s(200), manager: s(200), rep: s(200), support: s(403), marketer: s(403), otherManager: s(200) },
  'GET /v1/reports/funnel': { admin: s(200), manager: s(200), rep: s(200), support: s(403), marketer: s(403), otherManager: s(200) },
  'GET /v1/forecast': { admin: s(200), manager: s(200), rep: s(200), support: s(403), marketer: s(403), otherManager: s(200) },
  'GET /v1/forecast/snapshots': { admin: s(200), manager: s(200), rep: s(200), support: s(403), marketer: s(403), otherManager: s(200) },
  'GET /v1/forecast/accuracy': { admin: s(200), manager: s(200), rep: s(200), support: s(403), marketer: s(403), otherManager: s(200) },

  // marketing (api/marketing.md): custom field definitions are read by every role (they say what
  // the records each role reads carry) and set by admins; segments and the suppression list are
  // marketers' and admins', reads included (403 for everyone else). Their records are tenant-wide
  // (seeded by an admin whoever asks), so they have no owner and no 404 by visibility.
  'GET /v1/fields/{entity}': { admin: s(200), manager: s(200), rep: s(200), support: s(200), marketer: s(200), otherManager: s(200) },
  'PUT /v1/fields/{entity}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/suppressions': {
    admin: s(200, { lists: true }),
    manager: s(403),
    rep: s(403),
    support: s(403),
    marketer: s(200, { lists: true }),
    otherManager: s(403),
  },
  'POST /v1/suppressions': { admin: s(201), manager: s(403), rep: s(403), support: s(403), marketer: s(201), otherManager: s(403) },
  'GET /v1/suppressions/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'DELETE /v1/suppressions/{id}': { admin: s(204), manager: s(403), rep: s(403), support: s(403), marketer: s(204), otherManager: s(403) },
  'POST /v1/segments': { admin: s(201), manager: s(403), rep: s(403), support: s(403), marketer: s(201), otherManager: s(403) },
  'GET /v1/segments': {
    admin: s(200, { lists: true }),
    manager: s(403),
    rep: s(403),
    support: s(403),
    marketer: s(200, { lists: true }),
    otherManager: s(403),
  },
  'GET /v1/segments/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'PATCH /v1/segments/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'DELETE /v1/segments/{id}': { admin: s(204), manager: s(403), rep: s(403), support: s(403), marketer: s(204), otherManager: s(403) },
  'GET /v1/segments/{id}/members': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'GET /v1/segments/{id}/count': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  // campaigns (marketing.md): marketers and admins; every other role 403, reads included. The settings:
  // admins and marketers read them (marketers see the sender), only admins change them.
  'POST /v1/campaigns': { admin: s(201), manager: s(403), rep: s(403), support: s(403), marketer: s(201), otherManager: s(403) },
  'GET /v1/campaigns': { admin: s(200, { lists: true }), manager: s(403), rep: s(403), support: s(403), marketer: s(200, { lists: true }), otherManager: s(403) },
  'GET /v1/campaigns/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'PATCH /v1/campaigns/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'DELETE /v1/campaigns/{id}': { admin: s(204), manager: s(403), rep: s(403), support: s(403), marketer: s(204), otherManager: s(403) },
  'POST /v1/campaigns/{id}/schedule': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'POST /v1/campaigns/{id}/send': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'POST /v1/campaigns/{id}/cancel': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'GET /v1/campaigns/{id}/recipients': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'GET /v1/marketing/settings': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(200), otherManager: s(403) },
  'PUT /v1/marketing/settings': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },

  // knowledge base (api/service.md): support and admins write; every role reads published
  // articles (the seeded one is published, by a support user). Drafts: see test/service/kb.test.ts.
  // NPS surveys (service.md): admin, support and marketer; managers and reps 403, reads included.
  'POST /v1/surveys': { admin: s(201), manager: s(403), rep: s(403), support: s(201), marketer: s(201), otherManager: s(403) },
  'GET /v1/surveys': { admin: s(200, { lists: true }), manager: s(403), rep: s(403), support: s(200, { lists: true }), marketer: s(200, { lists: true }), otherManager: s(403) },
  'GET /v1/surveys/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(200), marketer: s(200), otherManager: s(403) },
  'POST /v1/surveys/{id}/send': { admin: s(200), manager: s(403), rep: s(403), support: s(200), marketer: s(200), otherManager: s(403) },
  'POST /v1/kb/articles': { admin: s(201), manager: s(403), rep: s(403), support: s(201), marketer: s(403), otherManager: s(403) },
  'GET /v1/kb/articles': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: true }),
    support: s(200, { lists: true }),
    marketer: s(200, { lists: true }),
    otherManager: s(200, { lists: true }),
  },
  'GET /v1/kb/articles/{id}': { admin: s(200), manager: s(200), rep: s(200), support: s(200), marketer: s(200), otherManager: s(200) },
  'PATCH /v1/kb/articles/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(200), marketer: s(403), otherManager: s(403) },
  'DELETE /v1/kb/articles/{id}': { admin: s(204), manager: s(403), rep: s(403), support: s(204), marketer: s(403), otherManager: s(403) },

  // tickets (api/service.md "Roles"): support and admins see and change every ticket; managers and reps
  // read the tickets of the accounts they may open (alice's: her manager mia) and comment on them, but
  // change nothing (403); other accounts' tickets are 404; marketers 403 on everything. The SLA policy:
  // read by support, managers and admins, replaced by admins.
  'POST /v1/tickets': { admin: s(201), manager: s(201), rep: s(201), support: s(201), marketer: s(403), otherManager: s(201) },
  'GET /v1/tickets': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(200, { lists: false }),
    support: s(200, { lists: true }),
    marketer: s(403),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/tickets/{id}': { admin: s(200), manager: s(200), rep: s(404), support: s(200), marketer: s(403), otherManager: s(404) },
  'PATCH /v1/tickets/{id}': { admin: s(200), manager: s(403), rep: s(404), support: s(200), marketer: s(403), otherManager: s(404) },
  'POST /v1/tickets/{id}/comments': { admin: s(201), manager: s(201), rep: s(404), support: s(201), marketer: s(403), otherManager: s(404) },
  'GET /v1/tickets/{id}/comments': { admin: s(200), manager: s(200), rep: s(404), support: s(200), marketer: s(403), otherManager: s(404) },
  'GET /v1/tickets/{id}/suggestions': { admin: s(200), manager: s(200), rep: s(404), support: s(200), marketer: s(403), otherManager: s(404) },
  // The service report (service.md): support, admin, manager (a tenant-wide figure: otherManager too).
  'GET /v1/reports/service': { admin: s(200), manager: s(200), rep: s(403), support: s(200), marketer: s(403), otherManager: s(200) },
  'GET /v1/sla/policy': { admin: s(200), manager: s(200), rep: s(403), support: s(200), marketer: s(403), otherManager: s(200) },
  'PUT /v1/sla/policy': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },

  // inbound forms (api/integrations.md): admins only, reads included; forms are tenant-wide settings
  // (seeded by an admin whoever asks), so no 404 by visibility.
  'POST /v1/forms': { admin: s(201), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/forms': { admin: s(200, { lists: true }), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/forms/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'PATCH /v1/forms/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'DELETE /v1/forms/{id}': { admin: s(204), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'POST /v1/forms/{id}/rotate-secret': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  // outbound webhooks (api/integrations.md): tenant settings of admins; every other role 403, reads included.
  'GET /v1/webhooks/event-types': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'POST /v1/webhooks': { admin: s(201), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/webhooks': { admin: s(200, { lists: true }), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/webhooks/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'PATCH /v1/webhooks/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'DELETE /v1/webhooks/{id}': { admin: s(204), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'POST /v1/webhooks/{id}/rotate-secret': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/webhooks/{id}/deliveries': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/retry': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  // CSV imports (integrations.md): admins and managers import every entity, marketers leads and contacts
  // (the matrix's body imports contacts); an import is read by its creator and admins (the seeded one is
  // another admin's), and is nothing reps and support ever touch (403).
  'POST /v1/imports': { admin: s(202), manager: s(202), rep: s(403), support: s(403), marketer: s(202), otherManager: s(202) },
  // An upload URL: the roles of the import it is for (contacts here).
  'POST /v1/imports/uploads': { admin: s(201), manager: s(201), rep: s(403), support: s(403), marketer: s(201), otherManager: s(201) },
  'GET /v1/imports': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: false }),
    rep: s(403),
    support: s(403),
    marketer: s(200, { lists: false }),
    otherManager: s(200, { lists: false }),
  },
  'GET /v1/imports/{id}': { admin: s(200), manager: s(404), rep: s(403), support: s(403), marketer: s(404), otherManager: s(404) },
  // CSV export of what the caller may see (its list's visibility): admin, manager, marketer.
  'GET /v1/exports/{file}': { admin: s(200), manager: s(200), rep: s(403), support: s(403), marketer: s(200), otherManager: s(200) },

  // users: admin and manager only; a manager lists its own team.
  'GET /v1/users': {
    admin: s(200, { lists: true }),
    manager: s(200, { lists: true }),
    rep: s(403),
    support: s(403),
    marketer: s(403),
    otherManager: s(200, { lists: false }),
  },

  // API keys (api/integrations.md): admins only; a seeded key of the tenant is a 403 to everyone else.
  'POST /v1/api-keys': { admin: s(201), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/api-keys': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/api-keys/{id}': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'DELETE /v1/api-keys/{id}': { admin: s(204), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'GET /v1/rate-limits': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
  'PUT /v1/rate-limits': { admin: s(200), manager: s(403), rep: s(403), support: s(403), marketer: s(403), otherManager: s(403) },
};

/** Ids each caller may reference in a body: its own account and contact, or alice's for roles that may not create customers. */
const refsOf: Partial<Record<Who, Required<Refs>>> = {};
let aliceRefs: Required<Refs>;

beforeAll(async () => {
  // Everyone is in the directory (first request), so reassignments can name them.
  for (const c of [alice, wes, ...Object.values(callers)]) expect((await api(c).get('/v1/tasks')).status).toBe(200);
  aliceRefs = await seedRefs(alice);
  for (const who of WHO) {
    const c = callers[who];
    refsOf[who] = c.role === 'support' || c.role === 'marketer' ? aliceRefs : await seedRefs(c);
  }
});

describe('role matrix: completeness', () => {
  it('every route of functions/routes.ts has a row, with every role', () => {
    const missing = routes.map(keyOf).filter((k) => !matrix[k]);
    expect(missing, 'routes without a row in the role matrix').toEqual([]);
    const stale = Object.keys(matrix).filter((k) => !routes.some((r) => keyOf(r) === k));
    expect(stale, 'matrix rows for routes that do not exist').toEqual([]);
    for (const [k, row] of Object.entries(matrix)) {
      for (const role of ROLES_REQUIRED) expect(row[role as Who], `${k} × ${role}`).toBeDefined();
      for (const who of WHO) expect(row[who], `${k} × ${who}`).toBeDefined();
    }
  });
});

/** The record as its owner and an admin see it, to compare after a refused write. */
/** Collections whose records nobody but their owner may open (a user's notifications): read back as the owner. */
const OWNER_ONLY = new Set(['notifications']);

async function snapshot(collection: string, id: string, owner: Caller = callers.admin) {
  return fetchRecord(OWNER_ONLY.has(collection) ? owner : callers.admin, collection, id);
}

async function check(route: (typeof routes)[number], who: Who, exp: Expect, target: 'alice' | 'own') {
  const k = keyOf(route);
  const caller = callers[who];
  const owner = target === 'own' ? caller : alice;
  const collection = collectionOf(route);
  const label = `${k} as ${who} on ${target === 'own' ? 'its own record' : "alice's record"}`;
  const status = target === 'own' ? exp.own! : exp.status;

  let id: string | undefined;
  let before: Record<string, unknown> | undefined;
  if (hasIdParam(route)) {
    const ownerRefs = target === 'own' ? refsOf[who]! : aliceRefs;
    id = await seederFor(route)(owner, { accountId: ownerRefs.accountId });
    before = await snapshot(collection, id, owner);
    expect(before, `${label}: seeded record readable by admin`).toBeDefined();
  }
  const body = hasBody(route) ? bodyFor(route)(refsOf[who]!) : undefined;
  const res = await send(caller, route.method, urlOf(route, id), body);
  expect(res.status, `${label}: ${res.req} → ${res.body.slice(0, 300)}`).toBe(status);

  if (status >= 400) {
    expectProblem(res, status, status === 403 ? 'forbidden' : status === 404 ? 'not_found' : undefined);
    if (id) expect(await snapshot(collection, id, owner), `${label}: a refused ${route.method} changed the record`).toEqual(before);
    return;
  }
  // Success: the write really happened, the read really returned the record.
  if (route.method === 'GET' && id) {
    if (SUBRESOURCE_OBJECTS.has(k)) {
      expect(res.json, `${label}: an object`).toBeTypeOf('object');
    } else if (/\/\{id\}\/[^/{}]+$/.test(route.path) && !route.path.endsWith('/360')) {
      // A sub-list of the record (`/payments`, `/quotes`, `/history`, `/members`): a list page.
      expect(Array.isArray(res.json.items), `${label}: items`).toBe(true);
    } else {
      const got = route.path.endsWith('/360') ? res.json.account : res.json;
      expect(got.id, label).toBe(id);
    }
  }
  if (route.method === 'PATCH') {
    const after = await snapshot(collection, id!, owner);
    expect(after!.version, label).toBe((before!.version as number) + 1);
    expect(after, label).toMatchObject(bodyFor(route)(refsOf[who]!));
  }
  if (route.method === 'DELETE') expect(await snapshot(collection, id!, owner), `${label}: still there`).toBeUndefined();
  if (route.method === 'POST' && !NOTHING_TO_READ_BACK.has(k)) {
    // What it created or changed: at its Location when it names one (a quote made under its
    // opportunity, the order a payment went to), else the record of the route's collection.
    const where = res.headers.location ?? ACTION_RESULT[k]?.(id!) ?? `/v1/${collection}/${encodeURIComponent(res.json.id ?? id)}`;
    const made = await send(OWNER_ONLY.has(collection) ? owner : callers.admin, 'GET', where);
    expect(made.status, `${label}: GET ${where}`).toBe(200);
  }
  if (isList(route) && exp.lists !== undefined) {
    // A fresh record of alice's (or alice herself, for the directory) must (not) be in the caller's list.
    const targetId = collection === 'users' ? alice.user : await seederFor(route)(alice, { accountId: aliceRefs.accountId });
    const items = await listAll<Record<string, unknown>>(caller, route.path);
    const ids = items.map((x) => (x.id ?? x.userId) as string);
    expect(ids.includes(targetId), `${label}: alice's ${collection} ${targetId} listed?`).toBe(exp.lists);
  }
}

describe('role matrix: route × role on a record owned by rep alice (team east)', () => {
  for (const route of routes) {
    const row = matrix[keyOf(route)];
    for (const who of WHO) {
      it(`${keyOf(route)} × ${who}`, async () => {
        if (!row) throw new Error(`route ${keyOf(route)} has no row in the role matrix`);
        await check(route, who, row[who], 'alice');
      });
      if (row?.[who]?.own !== undefined) {
        it(`${keyOf(route)} × ${who} on its own record`, async () => {
          await check(route, who, row[who], 'own');
        });
      }
    }
  }
});

describe('role matrix: reassigning owners', () => {
  it('a rep cannot give its account to someone else (403), on create or on patch', async () => {
    const id = (await api(alice).post('/v1/accounts', bodyFor(routes.find((r) => keyOf(r) === 'POST /v1/accounts')!)({}))).json.id;
    const before = await fetchRecord(alice, 'accounts', id);
    expectProblem(await api(alice).patch(`/v1/accounts/${id}`, { ownerId: 'bob' }), 403, 'forbidden');
    expect(await fetchRecord(alice, 'accounts', id)).toEqual(before);
    // Naming itself is no reassignment.
    const self = await api(alice).patch(`/v1/accounts/${id}`, { ownerId: 'alice' });
    expect(self.status).toBe(200);
    expect(self.json.ownerId).toBe('alice');

    const created = await api(alice).post('/v1/accounts', { name: 'for bob', ownerId: 'bob' });
    expectProblem(created, 403, 'forbidden');
    expect((await listAll(callers.admin, '/v1/accounts?ownerId=bob')).some((x) => x.name === 'for bob')).toBe(false);
  });

  it('a manager reassigns within its team (200) but not outside it (403)', async () => {
    const id = (await api(alice).post('/v1/accounts', { name: 'team account' })).json.id;
    const moved = await api(callers.manager).patch(`/v1/accounts/${id}`, { ownerId: 'bob' });
    expect(moved.status).toBe(200);
    expect(moved.json.ownerId).toBe('bob');
    expect((await api(callers.rep).get(`/v1/accounts/${id}`)).status).toBe(200);
    expectProblem(await api(alice).get(`/v1/accounts/${id}`), 404, 'not_found');

    const before = await fetchRecord(callers.admin, 'accounts', id);
    expectProblem(await api(callers.manager).patch(`/v1/accounts/${id}`, { ownerId: 'wes' }), 403, 'forbidden');
    expect(await fetchRecord(callers.admin, 'accounts', id)).toEqual(before);
    expectProblem(await api(callers.manager).post('/v1/accounts', { name: 'for wes', ownerId: 'wes' }), 403, 'forbidden');

    // An owner the directory does not hold is invalid input, not a permission question.
    expectFieldError(await api(callers.manager).patch(`/v1/accounts/${id}`, { ownerId: 'ghost' }), 'ownerId');

    // Contacts follow the same rule.
    const contact = (await api(alice).post('/v1/contacts', { name: '李雷' })).json.id;
    expect((await api(callers.manager).patch(`/v1/contacts/${contact}`, { ownerId: 'bob' })).json.ownerId).toBe('bob');
    expectProblem(await api(callers.manager).patch(`/v1/contacts/${contact}`, { ownerId: 'wes' }), 403, 'forbidden');
    expectProblem(await api(callers.rep).patch(`/v1/contacts/${contact}`, { ownerId: 'alice' }), 403, 'forbidden');
  });

  it('a manager of another team cannot see, change or delete the account at all (404)', async () => {
    const id = (await api(alice).post('/v1/accounts', { name: 'east only' })).json.id;
    const before = await fetchRecord(callers.admin, 'accounts', id);
    const max = api(callers.otherManager);
    expectProblem(await max.get(`/v1/accounts/${id}`), 404, 'not_found');
    expectProblem(await max.patch(`/v1/accounts/${id}`, { ownerId: 'wes' }), 404, 'not_found');
    expectProblem(await max.delete(`/v1/accounts/${id}`), 404, 'not_found');
    expect(await fetchRecord(callers.admin, 'accounts', id)).toEqual(before);
  });

  it('an admin reassigns anywhere, across teams, and the new team follows', async () => {
    const id = (await api(alice).post('/v1/accounts', { name: 'moves west' })).json.id;
    const moved = await api(callers.admin).patch(`/v1/accounts/${id}`, { ownerId: 'wes' });
    expect(moved.status).toBe(200);
    expect(moved.json.ownerId).toBe('wes');
    expect((await api(callers.otherManager).get(`/v1/accounts/${id}`)).status).toBe(200);
    expectProblem(await api(callers.manager).get(`/v1/accounts/${id}`), 404, 'not_found');
    const created = await api(callers.admin).post('/v1/accounts', { name: 'admin gives to bob', ownerId: 'bob' });
    expect(created.status).toBe(201);
    expect(created.json.ownerId).toBe('bob');
  });
});
