import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyToken } from '#local/auth.ts';

const root = path.resolve(import.meta.dirname, '../..');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'crm-token-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)('npx', ['tsx', 'local/token-cli.ts', ...args], {
      cwd: root,
      env: { ...process.env, CRM_DATA_DIR: dir },
      // A hang guard: four `npx tsx` starts at once took over 20 s on a loaded 2-core machine.
      timeout: 90_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('token CLI', { timeout: 120_000 }, () => {
  it('prints one token line that verifyToken accepts; bad input exits 2 with usage', async () => {
    // All at once: also proves that concurrent first runs agree on one key pair.
    const [a, expired, badRole, missing] = await Promise.all([
      cli('--tenant', 't1', '--user', 'u1', '--role', 'rep', '--team', 'east'),
      cli('--tenant', 't2', '--user', 'u2', '--role', 'admin', '--expires-in', '-60'),
      cli('--tenant', 't1', '--user', 'u1', '--role', 'superuser'),
      cli('--tenant', 't1', '--role', 'rep'),
    ]);

    for (const ok of [a, expired]) {
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    }
    expect(await verifyToken(a.stdout.trim(), dir)).toMatchObject({
      sub: 'u1',
      'custom:tenantId': 't1',
      'custom:role': 'rep',
      'custom:teamId': 'east',
    });
    await expect(verifyToken(expired.stdout.trim(), dir)).rejects.toThrow(/exp/);

    for (const bad of [badRole, missing]) {
      expect(bad.code).toBe(2);
      expect(bad.stdout).toBe('');
      expect(bad.stderr).toMatch(/usage:/);
    }
    expect(badRole.stderr).toMatch(/--role/);
    expect(missing.stderr).toMatch(/missing --user/);
  });
});
