// The sans-I/O harness exported by nat-alg/testing (src/testing/harness.ts): its helpers, its
// chunkings, how it drives the FTP translator and any other ALG translator, and the contract
// breaches it reports. The FTP translator's own tests (test/ftp) run through it as well.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FtpTranslator, NatAlgError, type AlgEvent, type AlgTranslator, type Direction, type Endpoint } from '../../src/core/index.js';
import {
  applyEdits,
  bytesOf,
  chunkings,
  editsOf,
  fromClient,
  fromServer,
  refuseAll,
  runSession,
  textOf,
  type ScriptStep,
} from '../../src/testing/index.js';

const OPTIONS = { clientAddress: '192.0.2.10', serverAddress: '198.51.100.7' };
const BOUNCE = '504 Data address refused: it must be your own address.\r\n';

const PASSIVE: ScriptStep[] = [
  fromServer('220 hi\r\n'),
  fromClient('USER a\r\nPASV\r\n'),
  fromServer('331 pw\r\n227 Entering Passive Mode (198,51,100,7,4,1).\r\n'),
  fromClient('PORT 192,0,2,10,7,208\r\n'),
  fromServer('200 PORT ok\r\n'),
];

describe('bytesOf / textOf', () => {
  it('map one character to one byte (Latin-1), Telnet IAC included', () => {
    expect([...bytesOf('A\xff\r\n')]).toEqual([0x41, 0xff, 0x0d, 0x0a]);
    expect(textOf(Uint8Array.from([0x41, 0xff, 0x00]))).toBe('A\xff\x00');
    expect([...bytesOf('\u0141')]).toEqual([0x41]); // above 255: the low byte
  });

  it('round-trip every byte, also in long buffers', () => {
    const all = Uint8Array.from({ length: 70_000 }, (_, i) => i & 0xff);
    expect(bytesOf(textOf(all))).toEqual(all);
  });
});

describe('chunkings', () => {
  const b = bytesOf('0123456789');
  it('whole, bytewise and at() cut as named', () => {
    expect(chunkings.whole(b, 0)).toEqual([10]);
    expect(chunkings.bytewise(b, 0)).toEqual(Array(10).fill(1));
    expect(chunkings.at(7, 3, 3, 0, 10, 42)(b, 0)).toEqual([3, 4, 3]);
    expect(chunkings.at()(b, 0)).toEqual([10]);
  });

  it('random() is reproducible, covers the step and keeps to maxChunk', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 300 }), (seed, max, n) => {
        const bytes = new Uint8Array(n);
        const a = chunkings.random(seed, max)(bytes, 0);
        expect(chunkings.random(seed, max)(bytes, 0)).toEqual(a);
        expect(a.reduce((x, y) => x + y, 0)).toBe(n);
        for (const len of a) expect(len >= 1 && len <= max).toBe(true);
      }),
    );
    expect(() => chunkings.random(1, 0)).toThrow(NatAlgError);
  });
});

describe('runSession with the FTP translator', () => {
  it('collects both directions and every event, answering requests with gateway endpoints', () => {
    const r = runSession(new FtpTranslator(OPTIONS), PASSIVE);
    expect(textOf(r.serverToClient)).toBe('220 hi\r\n331 pw\r\n227 Entering Passive Mode (192,0,2,1,156,65).\r\n200 PORT ok\r\n');
    expect(textOf(r.clientToServer)).toBe('USER a\r\nPASV\r\nPORT 192,0,2,1,156,66\r\n');
    const requests = r.events.flatMap((e) => (e.type === 'data-channel-request' ? [e.request] : []));
    expect(requests.map((q) => [q.mode, q.command, q.original.port])).toEqual([
      ['passive', 'PASV', 1025],
      ['active', 'PORT', 2000],
    ]);
    expect(r.events.filter((e) => e.type === 'data-channel-committed')).toHaveLength(2);
    expect(r.unconsumed).toEqual([]);
    expect(r.feeds).toBe(PASSIVE.length);
  });

  it('gives the same output and events in every chunking', () => {
    const whole = runSession(new FtpTranslator(OPTIONS), PASSIVE);
    const strip = (x: typeof whole) => ({ c2s: textOf(x.clientToServer), s2c: textOf(x.serverToClient), events: x.events });
    for (const chunking of [chunkings.bytewise, chunkings.at(1, 5, 9), chunkings.random(7, 3), chunkings.random(8, 11)]) {
      const r = runSession(new FtpTranslator(OPTIONS), PASSIVE, { chunking });
      expect(strip(r)).toEqual(strip(whole));
    }
    // Every single split point of every step.
    PASSIVE.forEach((s, index) => {
      for (let at = 1; at < s.bytes.length; at++) {
        const chunking = (b: Uint8Array, i: number) => (i === index ? [at, b.length - at] : [b.length]);
        expect(strip(runSession(new FtpTranslator(OPTIONS), PASSIVE, { chunking }))).toEqual(strip(whole));
      }
    });
  });

  it('passes refusals from the resolver to the translator', () => {
    const r = runSession(new FtpTranslator(OPTIONS), PASSIVE, { resolve: refuseAll('no ports left') });
    expect(textOf(r.serverToClient)).toContain('425 Cannot open data connection (no ports left).\r\n');
    expect(textOf(r.serverToClient)).toContain('425 Cannot open data connection (no ports left).\r\n200 PORT ok\r\n');
    expect(textOf(r.clientToServer)).toBe('USER a\r\nPASV\r\n');
  });

  it('types the resolver with the translator’s own requests (FTP: mode and command)', () => {
    const seen: string[] = [];
    const r = runSession(new FtpTranslator(OPTIONS), PASSIVE, {
      // q is an FtpDataChannelRequest here: `command` and `mode` type-check without a cast.
      resolve: (q) => {
        seen.push(`${q.mode} ${q.command}`);
        return { family: 4, address: '203.0.113.9', port: 50000 + q.id };
      },
    });
    expect(seen).toEqual(['passive PASV', 'active PORT']);
    expect(textOf(r.serverToClient)).toContain('(203,0,113,9,195,81)');
  });

  it('keeps input a blocked direction does not take, and reports it as unconsumed', () => {
    // After AUTH the client direction waits for the server's answer, which never comes.
    const script = [fromServer('220 hi\r\n'), fromClient('AUTH TLS\r\nNOOP\r\n')];
    const r = runSession(new FtpTranslator(OPTIONS), script);
    expect(textOf(r.clientToServer)).toBe('AUTH TLS\r\n');
    expect(r.unconsumed.map((u) => [u.direction, textOf(u.bytes)])).toEqual([['client-to-server', 'NOOP\r\n']]);
    expect(r.translator.isBlocked('client-to-server')).toBe(true);
    // With `end`, the server's side ends first (it has nothing left): no answer can come any
    // more, the client direction is unblocked, its rest is fed, and then it ends too.
    const ended = runSession(new FtpTranslator(OPTIONS), script, { end: true });
    expect(textOf(ended.clientToServer)).toBe('AUTH TLS\r\nNOOP\r\n');
    expect(ended.unconsumed).toEqual([]);
  });

  it('holds a local reply to a refused command until the server has greeted', () => {
    const refused = fromClient('PORT 6,6,6,6,0,21\r\n');
    const before = runSession(new FtpTranslator(OPTIONS), [refused]);
    expect(textOf(before.serverToClient)).toBe('');
    expect(before.events.map((e) => e.type)).toEqual(['command-refused', 'edit']); // the removal only
    const greeted = runSession(new FtpTranslator(OPTIONS), [refused, fromServer('220 hi\r\n')]);
    expect(textOf(greeted.serverToClient)).toBe(`220 hi\r\n${BOUNCE}`);
    // Once the server's side has ended, nothing more can come before it: the reply goes at once.
    const ended = runSession(new FtpTranslator(OPTIONS), [refused], { end: true });
    expect(textOf(ended.serverToClient)).toBe(BOUNCE);
  });

  it('rebuilds each direction from its input and its edits (applyEdits, editsOf)', () => {
    const script = [...PASSIVE, fromClient('PORT 6,6,6,6,0,21\r\nNOOP\r\n'), fromServer('200 ok\r\n')];
    const r = runSession(new FtpTranslator(OPTIONS), script, { chunking: chunkings.random(3, 5) });
    for (const [d, output] of [
      ['client-to-server', r.clientToServer],
      ['server-to-client', r.serverToClient],
    ] as const) {
      const input = Uint8Array.from(script.filter((s) => s.direction === d).flatMap((s) => [...s.bytes]));
      const es = editsOf(r.events, d);
      expect(es.length).toBeGreaterThan(0);
      expect(textOf(applyEdits(input, output, es))).toBe(textOf(output));
      // A mis-sized edit shows in the bytes, and one that overlaps the next is refused.
      const last = es[es.length - 1]!;
      expect(textOf(applyEdits(input, output, [...es.slice(0, -1), { ...last, outputLength: last.outputLength + 1 }]))).not.toBe(
        textOf(output),
      );
      if (es.length > 1) {
        expect(() => applyEdits(input, output, [{ ...es[0]!, inputLength: es[1]!.inputOffset - es[0]!.inputOffset + 1 }, ...es.slice(1)])).toThrow(
          NatAlgError,
        );
      }
    }
    expect(editsOf(r.events)).toHaveLength(editsOf(r.events, 'client-to-server').length + editsOf(r.events, 'server-to-client').length);
  });

  it('refuses a chunking that does not cover a step', () => {
    const t = new FtpTranslator(OPTIONS);
    expect(() => runSession(t, PASSIVE, { chunking: (b) => [b.length - 1] })).toThrow(NatAlgError);
    expect(() => runSession(new FtpTranslator(OPTIONS), PASSIVE, { chunking: (b) => [b.length + 1] })).toThrow(/does not cover/);
  });
});

/**
 * A toy ALG on the contract alone, to show the harness is not FTP's: a line `OFFER <port>` from
 * the client asks for a data channel and is rewritten with the announced port; anything else
 * passes. It keeps one line at most and holds it while a request is open, as a real ALG does.
 */
class OfferTranslator implements AlgTranslator {
  readonly opaque = false;
  lastActivityMs: number | null = null;
  readonly times: number[] = [];
  private line: number[] = [];
  private blocked: number | null = null;
  private held: Uint8Array | null = null;
  private nextId = 1;
  private readonly outputs: Record<Direction, Uint8Array[]> = { 'client-to-server': [], 'server-to-client': [] };
  private readonly events: AlgEvent[] = [];

  constructor(private readonly brokenContract: 'none' | 'takes-nothing' | 'keeps-views' = 'none') {}

  handleData(direction: Direction, bytes: Uint8Array, nowMs: number): number {
    this.times.push(nowMs);
    if (this.brokenContract === 'takes-nothing') return 0;
    if (this.brokenContract === 'keeps-views') {
      // Holds a view of the caller's buffer and writes it out on the next call: a bug.
      if (this.held) this.outputs[direction].push(this.held);
      this.held = bytes;
      return bytes.length;
    }
    if (direction === 'server-to-client') {
      this.outputs[direction].push(bytes); // a view, polled before handleData returns to the caller's loop
      return bytes.length;
    }
    for (let i = 0; i < bytes.length; i++) {
      if (this.blocked !== null) return i;
      this.line.push(bytes[i]!);
      if (bytes[i] === 0x0a) this.endLine(nowMs);
    }
    return bytes.length;
  }

  private endLine(nowMs: number): void {
    this.lastActivityMs = nowMs;
    const text = textOf(Uint8Array.from(this.line));
    const m = /^OFFER (\d+)\r\n$/.exec(text);
    if (!m) {
      this.outputs['client-to-server'].push(Uint8Array.from(this.line));
      this.line = [];
      return;
    }
    const id = this.nextId++;
    this.blocked = id;
    const original = { family: 4 as const, address: '192.0.2.10', port: Number(m[1]) };
    this.events.push({
      type: 'data-channel-request',
      request: { id, connector: 'server', acceptFrom: null, original, target: original, family: 4, oneShot: true, timeoutMs: null, label: 'OFFER' },
    });
  }

  resolveDataChannel(id: number, announced: Endpoint): void {
    if (id !== this.blocked) throw new NatAlgError('unknown-id', `no request ${id}`);
    this.outputs['client-to-server'].push(bytesOf(`OFFER ${announced.port}\r\n`));
    this.events.push({ type: 'data-channel-committed', id });
    this.line = [];
    this.blocked = null;
  }

  refuseDataChannel(id: number, reason = 'refused'): void {
    if (id !== this.blocked) throw new NatAlgError('unknown-id', `no request ${id}`);
    this.events.push({ type: 'command-refused', command: 'OFFER', reason, reply: `NO ${reason}` });
    this.outputs['server-to-client'].push(bytesOf(`NO ${reason}\r\n`));
    this.line = [];
    this.blocked = null;
  }

  handleEnd(): void {}
  pollOutput(direction: Direction): Uint8Array | null {
    return this.outputs[direction].shift() ?? null;
  }
  pollEvent(): AlgEvent | null {
    return this.events.shift() ?? null;
  }
  pollTimeout(): number | null {
    return null;
  }
  handleTimeout(): void {}
  isBlocked(direction: Direction): boolean {
    return direction === 'client-to-server' && this.blocked !== null;
  }
}

describe('runSession with any ALG translator', () => {
  const script = [fromServer('HELLO\r\n'), fromClient('HI\r\nOFFER 5000\r\nOFFER 6000\r\nBYE\r\n')];

  it('drives a translator built on the contract alone, in any chunking', () => {
    for (const chunking of [chunkings.whole, chunkings.bytewise, chunkings.random(5, 4)]) {
      const r = runSession(new OfferTranslator(), script, { chunking, nowMs: 1234 });
      expect(textOf(r.clientToServer)).toBe('HI\r\nOFFER 40001\r\nOFFER 40002\r\nBYE\r\n');
      expect(r.events.map((e) => e.type)).toEqual(['data-channel-request', 'data-channel-committed', 'data-channel-request', 'data-channel-committed']);
      expect(r.unconsumed).toEqual([]);
      expect(new Set(r.translator.times)).toEqual(new Set([1234]));
    }
    const refused = runSession(new OfferTranslator(), script, { resolve: refuseAll('busy') });
    expect(textOf(refused.serverToClient)).toBe('HELLO\r\nNO busy\r\nNO busy\r\n');
  });

  it('reports a translator that takes no input while not blocked', () => {
    expect(() => runSession(new OfferTranslator('takes-nothing'), script)).toThrow(/took no server-to-client input although that direction is not blocked/);
  });

  it('shows a translator that keeps views of input buffers: they are overwritten once used', () => {
    const r = runSession(new OfferTranslator('keeps-views'), [fromClient('ABC\r\n'), fromClient('DEF\r\n')]);
    expect(textOf(r.clientToServer)).toBe('\xee'.repeat(5));
  });
});
