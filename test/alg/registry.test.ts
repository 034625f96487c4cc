import { describe, it, expect } from 'vitest';
import { AlgRegistry, builtinAlgs, ftpAlg, NatAlgError } from '../../src/core/index.js';

describe('ALG registry', () => {
  it('finds the built-in ALGs by name and by well-known port', () => {
    expect(builtinAlgs.find('ftp')).toBe(ftpAlg);
    expect(builtinAlgs.forPort(21)).toBe(ftpAlg);
    expect(builtinAlgs.find('gopher')).toBeNull();
    expect(builtinAlgs.forPort(70)).toBeNull();
    expect(builtinAlgs.names).toContain('ftp');
  });

  it('refuses two ALGs of one name with a typed error', () => {
    let err: unknown;
    try {
      new AlgRegistry([ftpAlg, ftpAlg]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NatAlgError);
    expect((err as NatAlgError).kind).toBe('invalid-argument');
    expect((err as NatAlgError).code).toBe('ERR_NAT_ALG_INVALID_ARGUMENT');
  });

  it('the FTP module validates its options and says goodbye with a 421', () => {
    expect(() => ftpAlg.validate({ ftp64: 'yes' as never })).toThrow(NatAlgError);
    expect(() => ftpAlg.validate({ policy: { maxPendingDataChannels: -1 } })).toThrow(NatAlgError);
    expect(() => ftpAlg.validate(undefined)).not.toThrow();
    expect(new TextDecoder().decode(ftpAlg.farewell('bye')!)).toBe('421 bye\r\n');
    const v6to4 = { client: { family: 6, address: '2001:db8::1', port: 5000 }, server: { family: 4, address: '198.51.100.1', port: 21 } } as const;
    expect(ftpAlg.features(v6to4, undefined)).toEqual(['ftp64']);
    expect(ftpAlg.features(v6to4, { ftp64: false })).toEqual([]);
    const t = ftpAlg.create(v6to4, undefined);
    expect(t.opaque).toBe(false);
  });
});
