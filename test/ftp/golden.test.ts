/**
 * Golden transcripts recorded from real servers and clients (test/fixtures/transcripts/*.json)
 * replayed through the translator with every data channel mapped to a fixed replacement:
 * everything except the data lines must come out byte-identical, and the data lines rewritten.
 */
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { run, seg, C2S, S2C, text, type Segment, type Resolver } from './harness.js';

interface Transcript {
  server: string;
  client: string;
  clientAddress: string;
  serverAddress: string;
  chunks: Array<{ dir: 'c2s' | 's2c'; data: string }>;
}

const dir = join(__dirname, '..', 'fixtures', 'transcripts');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];

const V4 = '192.0.2.1';
const V6 = '2001:db8::1';
const PORT = 50000; // 195,80
const resolver: Resolver = (r) => (r.family === 4 ? { family: 4, address: V4, port: PORT } : { family: 6, address: V6, port: PORT });

function load(file: string): { t: Transcript; segments: Segment[] } {
  const t = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Transcript;
  const segments = t.chunks.map((ch) => seg(ch.dir === 'c2s' ? C2S : S2C, Uint8Array.from(Buffer.from(ch.data, 'base64'))));
  return { t, segments };
}

/** The line as it must come out, computed independently of the translator. */
function expectedLine(dir: string, line: string, serverIsV6: boolean): string {
  if (dir === C2S) {
    const m = /^(PORT|EPRT|LPRT) /i.exec(line);
    if (!m) return line;
    const eol = line.endsWith('\r\n') ? '\r\n' : '\n';
    const verb = m[1]!.toUpperCase();
    if (verb === 'LPRT') return (serverIsV6 ? 'LPRT 6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,1,2,195,80' : 'LPRT 4,4,192,0,2,1,2,195,80') + eol;
    if (serverIsV6) return `EPRT |2|${V6}|${PORT}|` + eol;
    return (verb === 'PORT' ? 'PORT 192,0,2,1,195,80' : `EPRT |1|${V4}|${PORT}|`) + eol;
  }
  if (/^227[ -]/.test(line)) return line.replace(/\d{1,3},\d{1,3},\d{1,3},\d{1,3},\d{1,3},\d{1,3}/, '192,0,2,1,195,80');
  if (/^229[ -]/.test(line)) return line.replace(/\((.)\1\1\d+\1\)/, (_all, d: string) => `(${d}${d}${d}${PORT}${d})`);
  return line;
}

const lines = (s: string) => s.split(/(?<=\n)/);

describe('golden transcripts', () => {
  if (files.length === 0) {
    it.skip('no transcripts in test/fixtures/transcripts yet (recorded by the interop helper)', () => {});
    return;
  }
  for (const file of files) {
    it(`${file}: only data lines change`, () => {
      const { t, segments } = load(file);
      const options = { clientAddress: t.clientAddress, serverAddress: t.serverAddress };
      const r = run(options, segments, resolver);
      expect(r.stuck).toBe(0);
      const bad = r.events.filter((e) => e.type === 'command-refused' || e.type === 'protocol-error' || e.type === 'close');
      expect(bad).toEqual([]);
      const serverIsV6 = t.serverAddress.includes(':');
      let rewritten = 0;
      for (const [d, out] of [[C2S, r.c2s], [S2C, r.s2c]] as const) {
        const input = text(Buffer.concat(segments.filter((s) => s.dir === d).map((s) => s.data)));
        const want = lines(input).map((l) => expectedLine(d, l, serverIsV6));
        rewritten += want.filter((l, i) => l !== lines(input)[i]).length;
        expect(lines(text(out))).toEqual(want);
      }
      const translated = r.events.filter((e) => e.type === 'line-translated').length;
      expect(translated).toBe(rewritten);
      expect(translated).toBeGreaterThan(0);
      // and the same with the transcript fed one byte at a time
      const single = run(options, segments, resolver, (d) => Array.from({ length: d.length }, () => 1));
      expect(text(single.c2s)).toBe(text(r.c2s));
      expect(text(single.s2c)).toBe(text(r.s2c));
      expect(single.events).toEqual(r.events);
    });
  }
});

/**
 * Synthetic transcripts (test/fixtures/synthetic, written by generate.py there): shapes of servers
 * that could not be recorded here, with the expected output written by hand.
 */
interface Synthetic {
  about: string;
  clientAddress: string;
  serverAddress: string;
  replacement: { ipv4: string; ipv6: string; port: number };
  chunks: Array<{ dir: 'c2s' | 's2c'; data: string }>;
  expect: { c2s: string; s2c: string };
}

const synthDir = join(__dirname, '..', 'fixtures', 'synthetic');
const synthFiles = existsSync(synthDir) ? readdirSync(synthDir).filter((f) => f.endsWith('.json')).sort() : [];
const latin1 = (b64: string) => Buffer.from(b64, 'base64').toString('latin1');

describe('synthetic transcripts', () => {
  it('exist', () => expect(synthFiles.length).toBeGreaterThanOrEqual(5));
  for (const file of synthFiles) {
    const t = JSON.parse(readFileSync(join(synthDir, file), 'utf8')) as Synthetic;
    it(`${file}: ${t.about}`, () => {
      const segments = t.chunks.map((ch) => seg(ch.dir === 'c2s' ? C2S : S2C, Uint8Array.from(Buffer.from(ch.data, 'base64'))));
      const resolve: Resolver = (r) =>
        r.family === 4 ? { family: 4, address: t.replacement.ipv4, port: t.replacement.port } : { family: 6, address: t.replacement.ipv6, port: t.replacement.port };
      const options = { clientAddress: t.clientAddress, serverAddress: t.serverAddress };
      for (const split of [undefined, (d: Uint8Array) => Array.from({ length: d.length }, () => 1)]) {
        const r = run(options, segments, resolve, split);
        expect(r.stuck).toBe(0);
        expect(text(r.c2s)).toBe(latin1(t.expect.c2s));
        expect(text(r.s2c)).toBe(latin1(t.expect.s2c));
      }
    });
  }
});
