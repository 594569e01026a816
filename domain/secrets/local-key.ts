/**
 * Keys of the local runtime: a random key per name in `$CRM_DATA_DIR/keys/` (else `.crm-local/keys/`
 * beside package.json), created on first use, so what they protect survives a restart.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function keyFileDir(): string {
  if (process.env.CRM_DATA_DIR) return path.join(process.env.CRM_DATA_DIR, 'keys');
  let dir = import.meta.dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('no package.json above the local key module');
    dir = parent;
  }
  return path.join(dir, '.crm-local', 'keys');
}

/** The local key `<name>.key` as its base64url text (32 random bytes), created if missing. */
export function localKeyText(name: string): string {
  const dir = keyFileDir();
  const file = path.join(dir, `${name}.key`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    try {
      // `wx`: of two processes creating it at once, one wins and both read the winner's key.
      writeFileSync(file, randomBytes(32).toString('base64url'), { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return readFileSync(file, 'utf8').trim();
}
