// Checks that the golden transcripts (recorded by scripts/record-transcripts.py) are well formed
// and cover what the replay tests rely on: both servers, both address families, and every way of
// opening a data channel. The replay through the translator lives with the translator's tests.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '..', 'fixtures', 'transcripts');

interface Transcript {
  server: string;
  client: string;
  clientAddress: string;
  serverAddress: string;
  chunks: { dir: 'c2s' | 's2c'; data: string }[];
}

const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
const NAME = /^(vsftpd|pyftpdlib)-(curl|lftp|ftplib)-(epsv|pasv|eprt|port|passive|active)-ipv(4|6)\.json$/;

function joined(t: Transcript, dir: 'c2s' | 's2c'): string {
  return Buffer.concat(
    t.chunks.filter((c) => c.dir === dir).map((c) => Buffer.from(c.data, 'base64')),
  ).toString('latin1');
}

describe('golden transcripts', () => {
  it('cover both servers, both families and all four data-channel commands', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
    const all = files.map((f) => f.match(NAME));
    expect(all.every((m) => m !== null)).toBe(true);
    const seen = (i: number): Set<string> => new Set(all.map((m) => m?.[i] ?? ''));
    expect(seen(1)).toEqual(new Set(['vsftpd', 'pyftpdlib']));
    expect(seen(4)).toEqual(new Set(['4', '6']));
    const commands = new Set(
      files.flatMap((f) => {
        const t = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Transcript;
        return [...joined(t, 'c2s').matchAll(/^(PORT|PASV|EPRT|EPSV) ?/gm)].map((m) => m[1]);
      }),
    );
    expect(commands).toEqual(new Set(['PORT', 'PASV', 'EPRT', 'EPSV']));
  });

  it.each(files)('%s is a complete, well-formed session', (file) => {
    const m = file.match(NAME);
    expect(m).not.toBeNull();
    const [, server, , mode, ipv] = m ?? [];
    const t = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Transcript;
    expect(t.server.startsWith(server === 'vsftpd' ? 'vsftpd ' : 'pyftpdlib ')).toBe(true);
    expect(t.client.length).toBeGreaterThan(0);
    const loopback = ipv === '6' ? '::1' : '127.0.0.1';
    expect(t.clientAddress).toBe(loopback);
    expect(t.serverAddress).toBe(loopback);
    for (const c of t.chunks) {
      expect(['c2s', 's2c']).toContain(c.dir);
      expect(c.data.length).toBeGreaterThan(0);
      expect(Buffer.from(c.data, 'base64').toString('base64')).toBe(c.data);
    }
    expect(t.chunks[0]?.dir).toBe('s2c');
    const c2s = joined(t, 'c2s');
    const s2c = joined(t, 's2c');
    expect(s2c.startsWith('220')).toBe(true);
    expect(c2s).toMatch(/^QUIT\r\n/m);
    expect(s2c).toMatch(/^221[ -]/m);
    // Every session has a multi-line reply (FEAT or HELP) and a refusal (the missing file).
    expect(s2c).toMatch(/^(211|214)-/m);
    expect(s2c).toMatch(/^55\d /m);
    const expected: Record<string, RegExp> = {
      epsv: /^EPSV\r\n/m,
      pasv: /^PASV\r\n/m,
      eprt: /^EPRT \|[12]\|/m,
      port: /^PORT \d+,\d+,\d+,\d+,\d+,\d+\r\n/m,
      passive: /^(EPSV|PASV)\r\n/m,
      active: /^(EPRT \||PORT \d)/m,
    };
    expect(c2s).toMatch(expected[mode ?? ''] ?? /$^/);
    if (mode === 'epsv' || mode === 'pasv' || mode === 'passive') expect(s2c).toMatch(/^22[79] /m);
  });
});
