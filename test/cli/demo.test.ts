/**
 * `npm run demo` is the first command a user runs: bundle examples/demo.ts (to a private
 * directory, so that no other build in the tree is disturbed) and check that it passes and says so.
 */
import { afterAll, describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'nat-alg-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples/demo.ts', () => {
  it('transfers in every mode through the relay, shows both sides, and exits 0', () => {
    const out = join(dir, 'demo.mjs');
    // esbuild is what tsup bundles with (a dependency of tsup): the same bundle as `npm run demo`.
    const build = spawnSync(
      resolve(root, 'node_modules/.bin/esbuild'),
      ['examples/demo.ts', '--bundle', '--platform=node', '--format=esm', '--target=node20', `--outfile=${out}`],
      { cwd: root, encoding: 'utf8' },
    );
    expect(build.status, build.stderr).toBe(0);
    const run = spawnSync(process.execPath, [out], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    for (const title of ['== PASV', '== EPSV', '== PORT', '== EPRT']) expect(run.stdout).toContain(title);
    // The relay's rewrites are shown as the pair: what one side sent and what the other received.
    expect(run.stdout).toMatch(/server sent {2}227 Entering Passive Mode \(127,0,0,1,\d+,\d+\)\n +client got {3}227 /);
    expect(run.stdout).toMatch(/client sent {2}PORT 127,0,0,1,\d+,\d+\n +server got {3}PORT /);
    expect(run.stdout).toContain('refused by the relay, never seen by the server');
    expect(run.stdout).toMatch(/All \d+ transfers in both directions arrived byte for byte\.\n$/);
    expect(run.stdout).not.toMatch(/MISMATCH|FAILED/);
  }, 90_000);
});
