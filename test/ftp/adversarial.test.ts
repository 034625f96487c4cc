/**
 * Adversarial fuzz: both directions driven by hostile token streams, data-channel requests
 * answered late, twice, with wrong ids or unusable endpoints, ends in the middle of anything.
 * Nothing a peer sends may throw; API misuse throws only NatAlgError of the documented kind and
 * changes nothing; memory stays bounded; edits still explain the output.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { FtpTranslator, MAX_PENDING_COMMANDS } from '../../src/core/ftp/translator.js';
import { NatAlgError } from '../../src/core/errors.js';
import { DEFAULT_FTP_POLICY, type FtpDataChannelRequest, type FtpEvent, type FtpTranslatorOptions } from '../../src/core/ftp/types.js';
import type { Direction } from '../../src/core/stream/translator.js';
import { run, c, s } from './harness.js';
import { C2S, S2C, bytes, concat, edits, applyEdits, text } from './harness.js';

const optionsList: FtpTranslatorOptions[] = [
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20' },
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxLineLength: 128, maxPendingDataChannels: 1 } },
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { maxLineLength: 128, overlongLine: 'close' } },
  { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { allowForeignDataAddress: true, allowLowDataPorts: true } },
  { clientAddress: '2001:db8::10', serverAddress: '198.51.100.20', ftp64: true },
  { clientAddress: '2001:db8::10', serverAddress: '2001:db8::20' },
];

const TLS = '\x16\x03\x01\x00\x05hello';
const clientTokens = [
  'PORT 192,0,2,10,19,137\r\n', 'PORT 0,0,0,0,19,137\r\n', 'PORT 127,0,0,1,19,137\r\n', 'PORT 192,0,2,10,0,0\r\n',
  'PORT 192,0,2,10,256,1\r\n', 'EPRT |1|192.0.2.10|5001|\r\n', 'EPRT |2|192.0.2.10|5001|\r\n', 'EPRT |2|::ffff:192.0.2.10|5001|\r\n',
  'EPRT |2|fe80::1%eth0|5001|\r\n', 'EPRT |2|2001:db8::10|5001|\r\n', 'EPRT |2|::|5001|\r\n', 'EPRT |2|::ffff:127.0.0.1|5001|\r\n',
  'LPRT 4,4,192,0,2,10,2,19,137\r\n', 'LPRT 6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,16,2,19,137\r\n', 'PASV\r\n', 'EPSV\r\n',
  'EPSV ALL\r\n', 'EPSV 2\r\n', 'LPSV\r\n', 'REIN\r\n', 'AUTH TLS\r\n', 'CCC\r\n', 'ALGS STATUS64\r\n', 'ALGS DISABLE64\r\n',
  'NOOP\r\n', 'NOOP\n', 'NOOP\r', '\r', '\n', '\0', '\r\0', '\xff', '\xff\xff', '\xff\xf4\xff\xf2', '\xff\xfb\x01', 'PO', 'RT ',
  'x'.repeat(200), TLS, '\x17\x03\x03\x00\x02ab', 'QUIT\r\n',
];
const serverTokens = [
  '220 hi\r\n', '200 ok\r\n', '150 open\r\n', '150-multi\r\n', '226 done\r\n', '227 Entering Passive Mode (10,0,0,5,195,80).\r\n',
  '227 (10,0,0,5,0,0)\r\n', '227 (10,0,0,5,256,80)\r\n', '227 (1,2,3,4,195,80)\r\n', '227-multi\r\n', '227 end\r\n',
  ' 10,0,0,5,195,80\r\n', '228 (4,4,10,0,0,5,2,195,80)\r\n', '228 (6,16,32,1,13,184,0,0,0,0,0,0,0,0,0,0,0,32,2,195,80)\r\n',
  '229 (|||50000|)\r\n', '229 (|||0|)\r\n', '229 (|||99999|)\r\n', '229-x\r\n', '234 go\r\n', '500 no\r\n', '421 bye\r\n',
  '214-help\r\n', '214 end\r\n', '228-x\r\n', '\r', '\n', '\0', '\r\0', '\xff', '2', '7', ' ', '-', 'y'.repeat(200), TLS, '\x15',
];

type Action =
  | { t: 'feed'; dir: Direction; data: string; cut: number }
  | { t: 'answer'; pick: number; how: 'resolve' | 'refuse' | 'bad-family' | 'bad-port' | 'twice' }
  | { t: 'bogus-id'; id: number }
  | { t: 'end'; dir: Direction };

const feedArb = fc
  .tuple(fc.boolean(), fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 6 }), fc.nat())
  .map(([cl, picks, cut]): Action => {
    const tokens = cl ? clientTokens : serverTokens;
    return { t: 'feed', dir: cl ? C2S : S2C, data: picks.map((p) => tokens[p % tokens.length]).join(''), cut };
  });
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 12, arbitrary: feedArb },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.nat(), fc.constantFrom('resolve' as const, 'resolve' as const, 'refuse' as const, 'bad-family' as const, 'bad-port' as const, 'twice' as const))
      .map(([pick, how]): Action => ({ t: 'answer', pick, how })),
  },
  { weight: 1, arbitrary: fc.integer({ min: -2, max: 50 }).map((id): Action => ({ t: 'bogus-id', id })) },
  { weight: 1, arbitrary: fc.boolean().map((cl): Action => ({ t: 'end', dir: cl ? C2S : S2C })) },
);

function expectMisuse(f: () => void, kind: string): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NatAlgError);
    expect((e as NatAlgError).kind).toBe(kind);
    return;
  }
  throw new Error(`expected NatAlgError ${kind}`);
}

function drive(o: FtpTranslatorOptions, actions: Action[]) {
  const t = new FtpTranslator(o);
  const inputs: Record<Direction, Uint8Array[]> = { [C2S]: [], [S2C]: [] } as never;
  const outputs: Record<Direction, Uint8Array[]> = { [C2S]: [], [S2C]: [] } as never;
  const waiting: Record<Direction, Uint8Array[]> = { [C2S]: [], [S2C]: [] } as never;
  const ended: Record<Direction, boolean> = { [C2S]: false, [S2C]: false } as never;
  const events: FtpEvent[] = [];
  const open = new Map<number, FtpDataChannelRequest>();
  const settled = new Set<number>();
  const poll = () => {
    for (const d of [C2S, S2C]) for (let b = t.pollOutput(d); b; b = t.pollOutput(d)) outputs[d].push(b.slice());
    for (let e = t.pollEvent(); e; e = t.pollEvent()) {
      events.push(e);
      if (e.type === 'data-channel-request') open.set(e.request.id, e.request);
    }
  };
  const pump = () => {
    let progress = true;
    while (progress) {
      progress = false;
      for (const d of [C2S, S2C]) {
        const q = waiting[d];
        while (q.length > 0 && !t.isBlocked(d) && !ended[d]) {
          const chunk = q[0]!;
          const buf = chunk.slice();
          const used = t.handleData(d, buf, 0);
          poll();
          buf.fill(0xee);
          if (used > 0) progress = true;
          if (used >= chunk.length) q.shift();
          else if (used > 0) q[0] = chunk.subarray(used);
          else {
            expect(t.isBlocked(d)).toBe(true);
            break;
          }
        }
      }
    }
  };
  for (const a of actions) {
    if (a.t === 'feed') {
      if (ended[a.dir]) {
        expectMisuse(() => t.handleData(a.dir, bytes(a.data), 0), 'invalid-state');
        continue;
      }
      const data = bytes(a.data);
      inputs[a.dir].push(data);
      const cut = a.cut % (data.length + 1);
      if (cut > 0) waiting[a.dir].push(data.subarray(0, cut));
      if (cut < data.length) waiting[a.dir].push(data.subarray(cut));
    } else if (a.t === 'answer') {
      const ids = [...open.keys()];
      if (ids.length === 0) continue;
      const id = ids[a.pick % ids.length]!;
      const r = open.get(id)!;
      const good = r.family === 4 ? { family: 4 as const, address: '192.0.2.1', port: 40000 + id } : { family: 6 as const, address: '2001:db8::1', port: 40000 + id };
      if (a.how === 'bad-port') {
        expectMisuse(() => t.resolveDataChannel(id, { ...good, port: 0 }), 'invalid-argument');
      } else if (a.how === 'bad-family') {
        const bad = r.family === 4 ? { family: 6 as const, address: '2001:db8::1', port: 40000 } : { family: 4 as const, address: '192.0.2.1', port: 40000 };
        try {
          t.resolveDataChannel(id, bad); // may be expressible (PORT -> EPRT); if not, a misuse error
          open.delete(id);
          settled.add(id);
        } catch (e) {
          expect(e).toBeInstanceOf(NatAlgError);
          expect((e as NatAlgError).kind).toBe('invalid-argument');
        }
      } else {
        if (a.how === 'refuse') t.refuseDataChannel(id, 'no\r\nPORT 6,6,6,6,0,21');
        else t.resolveDataChannel(id, good);
        open.delete(id);
        settled.add(id);
        if (a.how === 'twice') {
          expectMisuse(() => t.resolveDataChannel(id, good), 'unknown-id');
          expectMisuse(() => t.refuseDataChannel(id), 'unknown-id');
        }
      }
      poll();
    } else if (a.t === 'bogus-id') {
      if (!open.has(a.id)) {
        expectMisuse(() => t.resolveDataChannel(a.id, { family: 4, address: '192.0.2.1', port: 4000 }), 'unknown-id');
        expectMisuse(() => t.refuseDataChannel(a.id), 'unknown-id');
      }
    } else if (!ended[a.dir] && waiting[a.dir].length === 0) {
      t.handleEnd(a.dir, 0);
      t.handleEnd(a.dir, 0); // twice is harmless
      ended[a.dir] = true;
      poll();
    }
    pump();
    // Bounded: at most one held line per direction, the queue within its cap.
    // (internals: the framer's directions and the session record's pending queue)
    const anyT = t as unknown as { framer: { c2s: { holdLength: number }; s2c: { holdLength: number } }; state: { pending: { length: number } } };
    const max = o.policy?.maxLineLength ?? DEFAULT_FTP_POLICY.maxLineLength;
    expect(anyT.framer.c2s.holdLength).toBeLessThanOrEqual(max);
    expect(anyT.framer.s2c.holdLength).toBeLessThanOrEqual(max);
    expect(anyT.state.pending.length).toBeLessThanOrEqual(MAX_PENDING_COMMANDS + 1);
    expect(open.size).toBeLessThanOrEqual(2);
  }
  return { t, inputs, outputs, waiting, events, open };
}

describe('adversarial sessions', () => {
  it('never throw on peer input; misuse throws typed errors and changes nothing', () => {
    fc.assert(
      fc.property(fc.constantFrom(...optionsList), fc.array(actionArb, { minLength: 1, maxLength: 40 }), (o, actions) => {
        const r = drive(o, actions);
        // Edits explain the output whenever nothing was dropped or left over.
        if (r.events.some((e) => e.type === 'close') || r.waiting[C2S].length + r.waiting[S2C].length > 0 || r.open.size > 0) return;
        if (r.events.some((e) => e.type === 'tls-started')) return;
        // The translator's framer (internal): where each direction stands.
        const sides = (r.t as unknown as { framer: Record<string, { mode: string; holdLength: number; inputOffset: number }> }).framer;
        if (sides.c2s!.mode !== 'line-start' || sides.s2c!.mode !== 'line-start') return; // a line in progress
        for (const dir of [C2S, S2C]) {
          const input = concat(r.inputs[dir]);
          const output = concat(r.outputs[dir]);
          const consumed = input.subarray(0, sides[dir === C2S ? 'c2s' : 's2c']!.inputOffset);
          const es = edits(r.events).filter((e) => e.direction === dir);
          const rebuilt = applyEdits(consumed, es, (e) => output.subarray(e.outputOffset, e.outputOffset + e.outputLength));
          const held = sides[dir === C2S ? 'c2s' : 's2c']!.holdLength;
          // the output is the rebuilt input minus what is still held (an unfinished line)
          expect(text(output)).toBe(text(rebuilt).slice(0, rebuilt.length - held));
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 1500) },
    );
  });
});

describe('allowForeignDataAddress still never names the gateway itself', () => {
  const trusting: FtpTranslatorOptions = { clientAddress: '192.0.2.10', serverAddress: '198.51.100.20', policy: { allowForeignDataAddress: true } };
  const refusedLines = [
    'PORT 127,0,0,1,19,137\r\n', 'EPRT |1|127.0.0.1|5001|\r\n', 'EPRT |2|::1|5001|\r\n', 'EPRT |2|::ffff:127.0.0.1|5001|\r\n',
    'PORT 224,0,0,1,19,137\r\n', 'PORT 255,255,255,255,19,137\r\n', 'PORT 0,1,2,3,19,137\r\n', 'EPRT |2|ff02::1|5001|\r\n',
    'PORT 169,254,169,254,4,0\r\n', 'EPRT |1|169.254.169.254|1024|\r\n', 'EPRT |2|fe80::1|5001|\r\n', 'EPRT |2|febf::1|5001|\r\n',
    'EPRT |2|::ffff:169.254.1.1|5001|\r\n',
  ];
  for (const line of refusedLines) {
    it(`refuses ${line.trim()} from a client that is not on loopback`, () => {
      const r = run(trusting, [s('220 hi\r\n'), c(line)]);
      expect(r.events.filter((e) => e.type === 'data-channel-request')).toEqual([]);
      expect(text(r.c2s)).toBe('');
      expect(text(r.s2c)).toBe('220 hi\r\n504 Data address refused: it must be your own address.\r\n');
    });
  }
  it('still lets a loopback client name itself, and any client name a third host', () => {
    const loop = run({ ...trusting, clientAddress: '127.0.0.1' }, [s('220 hi\r\n'), c('PORT 127,0,0,1,19,137\r\n')]);
    expect(loop.events.filter((e) => e.type === 'data-channel-request')).toHaveLength(1);
    const third = run(trusting, [s('220 hi\r\n'), c('PORT 198,51,100,99,19,137\r\n')]);
    expect(third.events.filter((e) => e.type === 'data-channel-request')).toHaveLength(1);
    // fec0::/10 (old site-local) is outside fe80::/10 and is not the gateway's own link.
    const near = run(trusting, [s('220 hi\r\n'), c('EPRT |2|fec0::1|5001|\r\n')]);
    expect(near.events.filter((e) => e.type === 'data-channel-request')).toHaveLength(1);
  });
});

describe('Telnet commands inside a verb do not hide it', () => {
  // Servers that strip Telnet commands anywhere in a line (ProFTPD does) read these as the verb.
  const greet = s('220 hi\r\n');
  const hidden = ['PO\xff\xf1RT 6,6,6,6,0,21\r\n', 'PORT\xff\xf1 6,6,6,6,0,21\r\n', 'P\xff\xfb\x01ORT 6,6,6,6,0,21\r\n', 'EP\xff\xf2RT |1|6.6.6.6|21|\r\n'];
  for (const line of hidden) {
    it(`${JSON.stringify(line)} is read as the data command it is`, () => {
      for (const split of [undefined, (d: Uint8Array) => Array.from({ length: d.length }, () => 1)]) {
        const r = run(optionsList[0]!, [greet, c(line)], undefined, split);
        expect(text(r.c2s)).toBe('');
        expect(r.events.find((e) => e.type === 'command-refused')).toMatchObject({ reason: 'foreign-address' });
      }
    });
  }
  it('a hidden PASV gets its 227 translated', () => {
    const r = run(optionsList[0]!, [greet, c('PA\xff\xf1SV\r\n'), s('227 Entering Passive Mode (10,0,0,5,195,80).\r\n')]);
    expect(text(r.s2c)).toContain('227 Entering Passive Mode (192,0,2,1,156,65).');
  });
  it('a hidden AUTH is followed into TLS', () => {
    const r = run(optionsList[0]!, [greet, c('AU\xff\xf1TH TLS\r\n'), s('234 go\r\n')]);
    expect(r.events.some((e) => e.type === 'tls-started')).toBe(true);
  });
  it('a doubled IAC is a data byte: the line is no verb of ours', () => {
    const r = run(optionsList[0]!, [greet, c('PO\xff\xffRT 6,6,6,6,0,21\r\n')]);
    expect(text(r.c2s)).toBe('PO\xff\xffRT 6,6,6,6,0,21\r\n');
  });
});

describe('a local reply is not stranded behind a line that is no reply', () => {
  const o = optionsList[0]!;
  it('refusal queued while the server is in the middle of a stray text line goes out at its end', () => {
    const r = run(o, [s('220 hi\r\nstray'), c('PORT 6,6,6,6,100,1\r\n'), s(' text\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\nstray text\r\n504 Data address refused: it must be your own address.\r\n');
  });
  it('refusal queued before a stray text line goes out before it, at once', () => {
    const r = run(o, [s('220 hi\r\n'), c('PORT 6,6,6,6,100,1\r\n'), s('stray text\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n504 Data address refused: it must be your own address.\r\nstray text\r\n');
  });
  it('refusal queued while a stray line has not yet shown it is no reply goes out at its end', () => {
    const r = run(o, [s('220 hi\r\n22'), c('PORT 6,6,6,6,100,1\r\n'), s('x\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n22x\r\n504 Data address refused: it must be your own address.\r\n');
  });
  it('inside a multi-line reply it still waits for the reply end', () => {
    const r = run(o, [s('220 hi\r\n'), c('NOOP\r\n'), s('211-x\r\nstray'), c('PORT 6,6,6,6,100,1\r\n'), s(' text\r\n211 end\r\n')]);
    expect(text(r.s2c)).toBe('220 hi\r\n211-x\r\nstray text\r\n211 end\r\n504 Data address refused: it must be your own address.\r\n');
  });
});
