/**
 * A caller may reuse its input buffer once handleData returned and the output polled so far is
 * written out (stream/direction-stream.ts). Lines the translator keeps beyond the call (a line
 * waiting for its data channel, a line carried over a chunk boundary and read whole) must be its
 * own copies: overwriting the input afterwards changes nothing the translator sends.
 */
import { describe, expect, it } from 'vitest';
import { IrcTranslator } from '../../src/core/irc/translator.js';
import { bytes, OPTIONS, text, C2S, S2C } from './harness.js';

function drain(t: IrcTranslator, d: typeof C2S | typeof S2C, out: string[]): void {
  for (let b = t.pollOutput(d); b !== null; b = t.pollOutput(d)) out.push(text(b));
}

describe('input buffers reused by the caller', () => {
  it('a line waiting for its data channel is kept whole while the caller overwrites its input', () => {
    const t = new IrcTranslator(OPTIONS);
    const out: string[] = [];
    const buf = new Uint8Array(2048);
    const feed = (d: typeof C2S | typeof S2C, s: string, sink: string[]): void => {
      const b = bytes(s);
      buf.set(b);
      let off = 0;
      while (off < b.length) {
        off += t.handleData(d, buf.subarray(off, b.length), 0);
        for (let e = t.pollEvent(); e; e = t.pollEvent()) {
          if (e.type === 'data-channel-request') {
            buf.fill(0x58, 0, off); // the caller reuses what was consumed before answering
            t.resolveDataChannel(e.request.id, { family: 4, address: '198.51.100.1', port: 40001 });
          }
        }
        drain(t, d, sink);
      }
      buf.fill(0x58);
    };
    const ignored: string[] = [];
    feed(C2S, 'NICK alice\r\nUSER alice 0 * :Alice\r\n', ignored);
    feed(S2C, ':irc.test 001 alice :Welcome\r\n', ignored);
    feed(C2S, 'PRIVMSG bob :\x01DCC SEND a.bin 3221225994 5000 10\x01\r\nPRIVMSG bob :after\r\n', out);
    expect(out.join('')).toBe('PRIVMSG bob :\x01DCC SEND a.bin 3325256705 40001 10\x01\r\nPRIVMSG bob :after\r\n');
  });

  it('a line with \\x01 read over two chunks goes out as it came, however long its output waits to be polled', () => {
    const t = new IrcTranslator(OPTIONS);
    const ignored: string[] = [];
    for (const d of [C2S, S2C] as const) {
      t.handleData(d, bytes(d === C2S ? 'NICK alice\r\nUSER alice 0 * :Alice\r\n' : ':irc.test 001 alice :Welcome\r\n'), 0);
      drain(t, d, ignored);
    }
    const line = ':bob!b@h PRIVMSG #c :\x01ACTION waves\x01\r\n';
    const next = ':bob!b@h PRIVMSG #c :\x01ACTION zzzzzzzzzzzzzzzzzz';
    // fresh input buffers (never reused), output polled only at the end: the line read from the
    // translator's own buffer must not change when the next line is collected there
    for (const p of [line.slice(0, 20), line.slice(20), next]) t.handleData(S2C, bytes(p), 0);
    const out: string[] = [];
    drain(t, S2C, out);
    expect(out.join('')).toBe(line);
  });
});
