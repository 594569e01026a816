/**
 * `npm run --silent token -- --tenant T --user U --role R [--team M] [--expires-in SECONDS]`
 * prints a token the local API accepts, alone on stdout. Bad arguments: usage on
 * stderr, exit code 2.
 */
import { parseArgs } from 'node:util';
import { ROLES } from '#domain/identity.ts';
import { mintToken } from '#local/auth.ts';

const USAGE = `usage: npm run --silent token -- --tenant T --user U --role R [--team M] [--expires-in SECONDS]

  --tenant T            tenant id (custom:tenantId)
  --user U              user id (sub, cognito:username)
  --role R              one of: ${ROLES.join(', ')}
  --team M              team id (custom:teamId), optional
  --expires-in SECONDS  lifetime, default 3600; negative mints an already expired token

Prints a signed JWT for "Authorization: Bearer <jwt>" on stdout.
Keys live in $CRM_DATA_DIR/keys (default <repo>/.crm-local/keys).
`;

const VALUE_OPTIONS = ['--tenant', '--user', '--role', '--team', '--expires-in'];

function usage(message?: string): never {
  if (message) process.stderr.write(`token: ${message}\n\n`);
  process.stderr.write(USAGE);
  process.exit(2);
}

/** parseArgs refuses `--expires-in -60` as ambiguous; rewrite it as `--expires-in=-60`. */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (VALUE_OPTIONS.includes(arg) && next !== undefined && /^-\d+$/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

function parse() {
  try {
    return parseArgs({
      args: joinNegativeValues(process.argv.slice(2)),
      strict: true,
      allowPositionals: false,
      options: {
        tenant: { type: 'string' },
        user: { type: 'string' },
        role: { type: 'string' },
        team: { type: 'string' },
        'expires-in': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    usage((err as Error).message);
  }
}

const args = parse();
if (args.help) usage();
const missing = (['tenant', 'user', 'role'] as const).filter((k) => !args[k]?.trim());
if (missing.length) usage(`missing ${missing.map((k) => `--${k}`).join(', ')}`);
if (!(ROLES as readonly string[]).includes(args.role!)) usage(`--role must be one of ${ROLES.join(', ')}`);
if (args.team !== undefined && !args.team.trim()) usage('--team must not be empty');
let expiresInSeconds = 3600;
if (args['expires-in'] !== undefined) {
  if (!/^[+-]?\d+$/.test(args['expires-in'])) usage('--expires-in must be a whole number of seconds');
  expiresInSeconds = Number(args['expires-in']);
  if (!Number.isSafeInteger(expiresInSeconds)) usage('--expires-in is out of range');
}

try {
  const token = await mintToken({
    tenant: args.tenant!,
    user: args.user!,
    role: args.role!,
    ...(args.team !== undefined ? { team: args.team } : {}),
    expiresInSeconds,
  });
  process.stdout.write(`${token}\n`);
} catch (err) {
  process.stderr.write(`token: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
