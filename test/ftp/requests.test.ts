/**
 * What a data-channel request tells the embedding (alg/contract.ts): who may connect, where the
 * gateway then connects, once, and what asked. The target is the translator's decision under its
 * policy, so that no embedding can forget to check a server's address.
 */
import { describe, it, expect } from 'vitest';
import { run, c, s, opts } from './harness.js';
import type { FtpDataChannelRequest, FtpEvent } from '../../src/core/ftp/types.js';
import type { FtpTranslatorOptions } from '../../src/core/ftp/types.js';

const greet = s('220 hi\r\n');
const requests = (ev: FtpEvent[]): FtpDataChannelRequest[] => ev.flatMap((e) => (e.type === 'data-channel-request' ? [e.request] : []));
const v4 = (address: string, port: number) => ({ family: 4, address, port });
const trusting: FtpTranslatorOptions = { ...opts, policy: { allowForeignDataAddress: true } };

describe('data-channel requests', () => {
  it('PORT: only the server may connect, the gateway connects to where the client listens', () => {
    const [r] = requests(run(opts, [greet, c('PORT 192,0,2,10,19,137\r\n')]).events);
    expect(r).toMatchObject({ connector: 'server', acceptFrom: '198.51.100.20', target: v4('192.0.2.10', 5001), oneShot: true, label: 'PORT' });
  });

  it('EPRT to an IPv6 client: acceptFrom and target in the right families', () => {
    const o: FtpTranslatorOptions = { clientAddress: '2001:db8::10', serverAddress: '2001:db8::20' };
    const [r] = requests(run(o, [greet, c('EPRT |2|2001:db8::10|5001|\r\n')]).events);
    expect(r).toMatchObject({ connector: 'server', acceptFrom: '2001:db8::20', target: { family: 6, address: '2001:db8::10', port: 5001 }, label: 'EPRT' });
  });

  it('PASV naming the server itself: only the client may connect, to the server at that port', () => {
    const [r] = requests(run(opts, [greet, c('PASV\r\n'), s('227 Entering Passive Mode (198,51,100,20,200,1)\r\n')]).events);
    expect(r).toMatchObject({ connector: 'client', acceptFrom: '192.0.2.10', target: v4('198.51.100.20', 51201), label: 'PASV' });
  });

  it('PASV naming another host (a server behind its own NAT): the gateway still connects to the server', () => {
    const [r] = requests(run(opts, [greet, c('PASV\r\n'), s('227 Entering Passive Mode (10,1,2,3,200,1)\r\n')]).events);
    expect(r!.original).toEqual(v4('10.1.2.3', 51201));
    expect(r!.target).toEqual(v4('198.51.100.20', 51201));
  });

  it('with allowForeignDataAddress a reply may name another host, but never loopback, a group or the unspecified address', () => {
    const foreign = requests(run(trusting, [greet, c('PASV\r\n'), s('227 Entering Passive Mode (203,0,113,9,200,1)\r\n')]).events);
    expect(foreign[0]!.target).toEqual(v4('203.0.113.9', 51201));
    for (const host of ['127,0,0,1', '0,0,0,0', '224,0,0,1', '169,254,1,1']) {
      const [r] = requests(run(trusting, [greet, c('PASV\r\n'), s(`227 Entering Passive Mode (${host},200,1)\r\n`)]).events);
      expect(r!.target).toEqual(v4('198.51.100.20', 51201));
    }
  });

  it('EPSV names no host: the target is the server at the given port', () => {
    const [r] = requests(run(opts, [greet, c('EPSV\r\n'), s('229 Entering Extended Passive Mode (|||51201|)\r\n')]).events);
    expect(r).toMatchObject({ mode: 'passive', connector: 'client', acceptFrom: '192.0.2.10', target: v4('198.51.100.20', 51201), label: 'EPSV' });
  });

  it('every request is one-shot and leaves the timeout to the embedding', () => {
    const rs = requests(run(opts, [greet, c('PORT 192,0,2,10,19,137\r\n'), s('200 ok\r\n'), c('PASV\r\n'), s('227 ok (198,51,100,20,200,1)\r\n')]).events);
    expect(rs).toHaveLength(2);
    for (const r of rs) expect(r).toMatchObject({ oneShot: true, timeoutMs: null });
    expect(rs.map((r) => r.id)).toEqual([1, 2]);
  });
});
