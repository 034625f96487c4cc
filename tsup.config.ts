import { existsSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

// The published package: the pure core (`.`), the node:net adapters (`./node`), the scriptable
// test peers (`./testing`) and the CLI. ESM and CommonJS with declarations for the libraries.
//
// One core for all entry points: the three libraries are built together with code splitting, so
// the core lives in shared chunks that `nat-alg`, `nat-alg/node` and `nat-alg/testing` all import.
// `NatAlgError`, `FtpTranslator` and every other class are then the same objects whichever entry
// point a program reaches them through (within one format: ESM and CommonJS are two builds, so a
// program that both imports and requires nat-alg gets two copies, as with any dual package).
// Splitting was chosen over marking `nat-alg` external and importing it by name: it needs no
// change to the sources (which import the core by relative path), the adapters keep using
// internals that are not public API, it does not depend on the package resolving its own name
// (which neither the type-checker nor the test runner does in this repository without aliases),
// and the declaration bundler already emits the shared types as common chunks. For CommonJS,
// tsup builds ESM chunks and lets rollup (its tree-shaking pass) turn them into CommonJS chunks
// that `require` each other. test/package/pack.test.ts checks the packed tarball in both formats.
const libraries = Object.fromEntries(
  Object.entries({
    index: 'src/core/index.ts',
    node: 'src/node/index.ts',
    testing: 'src/testing/index.ts',
  }).filter(([, file]) => existsSync(file)),
);

const configs: Options[] = [
  {
    entry: libraries,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: false, // the build script empties dist first: two configs cleaning in parallel race
    target: 'node20',
    splitting: true,
    treeshake: true,
  },
];
if (existsSync('src/cli/main.ts')) {
  configs.push({
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
  });
}

export default defineConfig(configs);
