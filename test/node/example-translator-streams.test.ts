/**
 * examples/translator-streams.ts is documentation that runs: bundle it as `npm run demo` bundles
 * the demo (esbuild, into a private directory) and check that every mode transferred through
 * the gateway built from createFtpTranslatorStreams, openDataChannel and pipeline().
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'nat-alg-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples/translator-streams.ts', () => {
  it('transfers both ways in every mode through a gateway of its own, and exits 0', () => {
    const out = join(dir, 'translator-streams.mjs');
    const build = spawnSync(
      resolve(root, 'node_modules/.bin/esbuild'),
      ['examples/translator-streams.ts', '--bundle', '--platform=node', '--format=esm', '--target=node20', `--outfile=${out}`],
      { cwd: root, encoding: 'utf8' },
    );
    expect(build.status, build.stderr).toBe(0);
    const run = spawnSync(process.execPath, [out], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    for (const mode of ['PASV', 'EPSV', 'PORT', 'EPRT']) {
      expect(run.stdout).toContain(`== ${mode}`);
      // Each mode's two transfers went through one of the gateway's data channels.
      expect(run.stdout.match(new RegExp(`^  ${mode}: \\S+ -> gateway -> \\S+$`, 'gm'))).toHaveLength(2);
    }
    expect(run.stdout.match(/download ok, upload ok, all through the gateway/g)).toHaveLength(4);
    expect(run.stdout).toMatch(/All transfers arrived byte for byte\.\n$/);
  }, 90_000);
});
