/**
 * The core (src/core) is platform-neutral: no node: modules, no require of node builtins, no
 * Buffer, no timers, no wall clock, no Math.random. Checked on the sources and on the built
 * bundle dist/index.js (what users actually import).
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { builtinModules } from 'node:module';

const root = join(__dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Strip comments so that prose mentioning Buffer or Date.now does not count. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const builtins = builtinModules.filter((m) => !m.startsWith('_')).map((m) => m.replace(/^node:/, ''));
const importRe = /(?:from\s*|import\s*\(\s*|require\s*\(\s*)['"]([^'"]+)['"]/g;

function violations(text: string): string[] {
  const found: string[] = [];
  const c = code(text);
  for (const m of c.matchAll(importRe)) {
    const spec = m[1]!;
    if (spec.startsWith('node:') || builtins.includes(spec.split('/')[0]!)) found.push(`imports ${spec}`);
  }
  const banned: Array<[RegExp, string]> = [
    [/\bBuffer\s*[.(]/, 'Buffer'],
    [/\bsetTimeout\s*\(/, 'setTimeout'],
    [/\bsetInterval\s*\(/, 'setInterval'],
    [/\bsetImmediate\s*\(/, 'setImmediate'],
    [/\bDate\.now\s*\(/, 'Date.now'],
    [/\bnew Date\s*\(/, 'new Date'],
    [/\bMath\.random\s*\(/, 'Math.random'],
    [/\bprocess\.[a-z]/, 'process'],
    [/\bconsole\.[a-z]/, 'console'],
  ];
  for (const [re, name] of banned) if (re.test(c)) found.push(name);
  return found;
}

describe('src/core is platform-neutral', () => {
  it('sources use no node: modules, Buffer, timers, clock or randomness', () => {
    const files = sources(join(root, 'src', 'core'));
    expect(files.length).toBeGreaterThan(5);
    const bad = files.flatMap((f) => violations(readFileSync(f, 'utf8')).map((v) => `${f.slice(root.length + 1)}: ${v}`));
    expect(bad).toEqual([]);
  });

  it('the scanner finds what it looks for', () => {
    expect(violations("import { x } from 'node:fs';")).toEqual(['imports node:fs']);
    expect(violations("const b = require('net');")).toEqual(['imports net']);
    expect(violations('const b = Buffer.from(x); setTimeout(f, 1); Date.now();')).toEqual(['Buffer', 'setTimeout', 'Date.now']);
    expect(violations('// Buffer.from is not used here\nconst ok = 1;')).toEqual([]);
  });

  it('the built core dist/index.js, with every chunk it loads, uses none of them either', () => {
    const entry = join(root, 'dist', 'index.js');
    if (!existsSync(entry)) execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' });
    // The entry points share the core through chunks (tsup.config.ts): index.js itself only
    // re-exports, so follow its relative imports; what it reaches is what `nat-alg` loads.
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/\bfrom\s*['"](\.\/[^'"]+)['"]/g)) visit(join(root, 'dist', m[1]!));
    };
    visit(entry);
    const text = [...seen].map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(seen.size).toBeGreaterThan(1);
    expect(text).toMatch(/\bFtpTranslator = class\b|\bclass FtpTranslator\b/);
    expect(violations(text)).toEqual([]);
  }, 120_000);
});
