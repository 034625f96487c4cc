// The package as a user gets it: `npm pack` the built tree once, install the tarball into a
// temporary project (offline, from the tarball alone: nat-alg has no runtime dependencies), and
// check from there, in ESM and in CommonJS, that the three entry points share one core (errors
// and classes are the same objects whichever entry point a program reaches them through), and
// that a consumer type-checks against the published declarations under moduleResolution node10
// (through `typesVersions`), node16 (ESM and CommonJS files) and bundler.
//
// It tests dist/ as `npm run build` left it (npm test builds first). A missing or stale dist/
// skips the file with the reason on a developer machine and fails it under CI.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dist = join(root, 'dist');
const inCI = Boolean(process.env.CI);

const ENTRY_FILES = ['index', 'node', 'testing'].flatMap((n) => [`${n}.js`, `${n}.cjs`, `${n}.d.ts`, `${n}.d.cts`]);

function newestUnder(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestUnder(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Why dist/ cannot stand for the sources, or '' when it can. */
function distProblem(): string {
  let oldestBuilt = Infinity;
  for (const f of ENTRY_FILES) {
    try {
      oldestBuilt = Math.min(oldestBuilt, statSync(join(dist, f)).mtimeMs);
    } catch {
      return `dist/${f} is missing (run \`npm run build\`)`;
    }
  }
  const inputs = Math.max(newestUnder(join(root, 'src')), statSync(join(root, 'package.json')).mtimeMs);
  return inputs > oldestBuilt ? 'dist/ is older than src/ or package.json (run `npm run build`)' : '';
}

const problem = distProblem();

describe('package prerequisites', () => {
  it('has a fresh build in dist/', () => {
    if (problem === '') return;
    if (inCI) expect.fail(`the package test cannot run: ${problem}`);
    console.warn(`package test skipped: ${problem}`);
  });
});

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// The body of the runtime check, the same text for the ESM and the CommonJS consumer: it gets
// the three entry points as namespace objects and prints what it found as JSON.
const CHECK = String.raw`
async function check(core, node, testing) {
  const out = {};
  // An error thrown by nat-alg/node (its own validation, through the core's class).
  try {
    node.createFtpProxy({ upstream: { host: '198.51.100.7', port: 0 } });
    out.nodeError = 'nothing thrown';
  } catch (e) {
    out.nodeError = { isCoreError: e instanceof core.NatAlgError, isNodeExport: e instanceof node.NatAlgError, code: e.code };
  }
  // And one thrown by nat-alg/testing.
  try {
    void new testing.FtpTestServer().endpoint;
    out.testingError = 'nothing thrown';
  } catch (e) {
    out.testingError = { isCoreError: e instanceof core.NatAlgError, code: e.code };
  }
  out.sameErrorClass = node.NatAlgError === core.NatAlgError && testing.NatAlgError === core.NatAlgError;

  // The translator nat-alg/node builds by default is nat-alg's FtpTranslator.
  const plain = node.createFtpTranslatorStreams({
    clientAddress: '192.0.2.5', serverAddress: '198.51.100.7', resolveDataChannel: () => null,
  });
  out.defaultTranslatorIsCoreClass = plain.translator instanceof core.FtpTranslator;
  plain.clientToServer.destroy();
  plain.serverToClient.destroy();

  // A translator built from nat-alg, given an endpoint it cannot use (IPv6 for a 227): the
  // NatAlgError it throws must be recognised by nat-alg/node, which refuses the reply (425)
  // instead of destroying both streams.
  const { clientToServer, serverToClient } = node.createFtpTranslatorStreams({
    clientAddress: '192.0.2.5',
    serverAddress: '198.51.100.7',
    resolveDataChannel: () => core.endpoint('2001:db8::1', 50000),
    createTranslator: (options) => new core.FtpTranslator(options),
  });
  let toClient = '';
  const errors = [];
  clientToServer.on('data', () => {});
  serverToClient.on('data', (c) => (toClient += c.toString('latin1')));
  clientToServer.on('error', (e) => errors.push(String(e)));
  serverToClient.on('error', (e) => errors.push(String(e)));
  const tick = () => new Promise((r) => setTimeout(r, 20));
  serverToClient.write('220 ready\r\n');
  clientToServer.write('PASV\r\n');
  await tick();
  serverToClient.write('227 Entering Passive Mode (198,51,100,7,4,1).\r\n200 next\r\n');
  await tick();
  await tick();
  out.refusal = { toClient, errors, destroyed: clientToServer.destroyed || serverToClient.destroyed };
  clientToServer.destroy();
  serverToClient.destroy();

  // The sans-I/O harness of nat-alg/testing driving nat-alg's translator, byte by byte.
  const run = testing.runSession(
    new core.FtpTranslator({ clientAddress: '192.0.2.5', serverAddress: '198.51.100.7' }),
    [testing.fromServer('220 hi\r\n'), testing.fromClient('PASV\r\n'), testing.fromServer('227 ok (198,51,100,7,4,1)\r\n')],
    { chunking: testing.chunkings.bytewise },
  );
  out.harness = testing.textOf(run.serverToClient);
  return out;
}
`;

const ESM = `import * as core from 'nat-alg';
import * as node from 'nat-alg/node';
import * as testing from 'nat-alg/testing';
${CHECK}
console.log(JSON.stringify(await check(core, node, testing)));
`;

const CJS = `const core = require('nat-alg');
const node = require('nat-alg/node');
const testing = require('nat-alg/testing');
${CHECK}
check(core, node, testing).then((r) => console.log(JSON.stringify(r)));
`;

// A consumer of the types: crosses entry points, and holds one deliberate mistake that the
// published declarations must catch (were they unresolved, everything would be \`any\` and the
// expect-error directive would itself be an error).
const CONSUMER_TS = `import { endpoint, FtpTranslator, NatAlgError, type DataChannelRequest, type Endpoint, type NatAlgErrorCode } from 'nat-alg';
import { createFtpProxy, createFtpTranslatorStreams, NatAlgError as NodeError } from 'nat-alg/node';
import { chunkings, fromClient, fromServer, FtpTestServer, NatAlgError as TestingError, runSession } from 'nat-alg/testing';

const resolveDataChannel = (r: DataChannelRequest): Endpoint | null => endpoint('192.0.2.1', 40000 + r.id);
export const streams = createFtpTranslatorStreams({
  clientAddress: '192.0.2.10',
  serverAddress: '198.51.100.7',
  resolveDataChannel,
  createTranslator: (options) => new FtpTranslator(options),
});
export const classes: (typeof NatAlgError)[] = [NodeError, TestingError];
export const code: NatAlgErrorCode = new NodeError('capacity', 'full').code;
export const server = new FtpTestServer();
// The harness infers FTP's requests from the core's translator: its command needs no cast.
export const run = runSession(new FtpTranslator({ clientAddress: '192.0.2.10', serverAddress: '198.51.100.7' }), [fromServer('220 hi\\r\\n'), fromClient('PASV\\r\\n')], {
  chunking: chunkings.bytewise,
  resolve: (q) => (q.command === 'PASV' ? endpoint('192.0.2.1', 40000) : { refuse: 'not passive' }),
});
// @ts-expect-error dataPort is misspelt (dataPorts)
createFtpProxy({ upstream: { host: '198.51.100.7', port: 21 }, dataPort: { min: 1, max: 2 } });
`;

interface ResolutionCase {
  readonly name: string;
  readonly module: string;
  readonly moduleResolution: string;
  readonly files: readonly string[];
  /** Check the declaration files too (costs seconds for @types/node): once, where both kinds are read. */
  readonly checkDeclarations: boolean;
}

const RESOLUTIONS: readonly ResolutionCase[] = [
  { name: 'node10', module: 'commonjs', moduleResolution: 'node10', files: ['consumer.ts'], checkDeclarations: false },
  { name: 'node16', module: 'node16', moduleResolution: 'node16', files: ['consumer.mts', 'consumer.cts'], checkDeclarations: true },
  { name: 'bundler', module: 'esnext', moduleResolution: 'bundler', files: ['consumer.ts'], checkDeclarations: false },
];

describe.skipIf(problem !== '')('the packed package', () => {
  let work = '';
  let project = '';
  let packedFiles: string[] = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'nat-alg-pack-'));
    const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], root)) as {
      filename: string;
      files: { path: string }[];
    }[];
    packedFiles = packed[0]!.files.map((f) => f.path);
    project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    run(
      'npm',
      ['install', join(work, packed[0]!.filename), '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'],
      project,
    );
    writeFileSync(join(project, 'check.mjs'), ESM);
    writeFileSync(join(project, 'check.cjs'), CJS);
    for (const f of ['consumer.ts', 'consumer.mts', 'consumer.cts']) writeFileSync(join(project, f), CONSUMER_TS);
  }, 120_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds the build, the docs, README and LICENSE, and nothing of the sources or tests', () => {
    for (const f of ['LICENSE', 'README.md', 'package.json', 'docs/testing.md', ...ENTRY_FILES.map((f) => `dist/${f}`)]) {
      expect(packedFiles).toContain(f);
    }
    expect(packedFiles.filter((f) => /^(src|test|bench|examples)\//.test(f))).toEqual([]);
    const license = readFileSync(join(project, 'node_modules/nat-alg/LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 nat-alg contributors\n/);
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).license).toBe('MIT');
  });

  it('declares each class once per format: the entry points share the core', () => {
    // Runtime code: one `class NatAlgError` in the ESM files and one in the CommonJS files.
    const installed = join(project, 'node_modules/nat-alg/dist');
    const files = readdirSync(installed).filter((f) => f !== 'cli.js');
    for (const ext of [/\.js$/, /\.cjs$/, /\.d\.ts$/, /\.d\.cts$/]) {
      const text = files.filter((f) => ext.test(f)).map((f) => readFileSync(join(installed, f), 'utf8'));
      for (const cls of ['NatAlgError', 'FtpTranslator', 'RelaySession']) {
        // esbuild writes `var X = class ...`, the declarations `declare class X`.
        const count = text.reduce((n, t) => n + (t.match(new RegExp(`\\bclass ${cls}\\b|\\b${cls} = class\\b`, 'g'))?.length ?? 0), 0);
        expect(count, `class ${cls} in ${ext}`).toBe(1);
      }
    }
  });

  for (const [format, script] of [
    ['ESM', 'check.mjs'],
    ['CommonJS', 'check.cjs'],
  ] as const) {
    it(`${format}: errors and classes are the same objects across nat-alg, nat-alg/node and nat-alg/testing`, () => {
      const out = JSON.parse(run(process.execPath, [script], project));
      expect(out.nodeError).toEqual({ isCoreError: true, isNodeExport: true, code: 'ERR_NAT_ALG_INVALID_ARGUMENT' });
      expect(out.testingError).toEqual({ isCoreError: true, code: 'ERR_NAT_ALG_INVALID_STATE' });
      expect(out.sameErrorClass).toBe(true);
      expect(out.defaultTranslatorIsCoreClass).toBe(true);
      // The 425 refusal path, not two destroyed streams.
      expect(out.refusal.errors).toEqual([]);
      expect(out.refusal.destroyed).toBe(false);
      expect(out.refusal.toClient).toMatch(/^220 ready\r\n425 Cannot open data connection \(.*\)\.\r\n200 next\r\n$/);
      expect(out.harness).toBe('220 hi\r\n227 ok (192,0,2,1,156,65)\r\n');
    });
  }

  for (const c of RESOLUTIONS) {
    it(`type-checks a consumer under moduleResolution ${c.name}`, () => {
      const tsconfig = {
        compilerOptions: {
          module: c.module,
          moduleResolution: c.moduleResolution,
          target: 'es2022',
          lib: ['es2022'],
          strict: true,
          noEmit: true,
          // node16 reads both dist/*.d.ts (from consumer.mts) and dist/*.d.cts (from consumer.cts),
          // so checking the declarations there covers all of them; node10 and bundler add only
          // resolution, which the consumer's own imports and its @ts-expect-error prove.
          skipLibCheck: !c.checkDeclarations,
          // @types/node from this repository: the temporary project installs nothing but nat-alg.
          typeRoots: [join(root, 'node_modules/@types')],
          types: ['node'],
        },
        files: c.files,
      };
      const file = join(project, `tsconfig.${c.name}.json`);
      writeFileSync(file, JSON.stringify(tsconfig, null, 2));
      const tsc = join(dirname(createRequire(join(root, 'package.json')).resolve('typescript/package.json')), 'bin/tsc');
      const r = spawnSync(process.execPath, [tsc, '-p', file], { cwd: project, encoding: 'utf8', timeout: 120_000 });
      expect(r.stdout + r.stderr, `tsc ${c.name}`).toBe('');
      expect(r.status).toBe(0);
    }, 60_000);
  }
});
