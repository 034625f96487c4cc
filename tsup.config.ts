import { existsSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

// The published package: the pure core (`.`), the node:net adapters (`./node`), the scriptable
// test peers (`./testing`) and the CLI. ESM and CommonJS with declarations for the libraries.
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
    splitting: false,
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
