import { defineConfig } from 'tsup';

// Benchmarks and examples are TypeScript run by plain node after bundling; they are not published.
export default defineConfig({
  entry: ['bench/run.ts', 'examples/*.ts'],
  outDir: '.build',
  format: ['esm'],
  target: 'node20',
  sourcemap: true,
  clean: true,
  splitting: false,
});
