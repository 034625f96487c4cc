/**
 * namesNoRemoteHost (FTP's and IRC's policies share it): every spelling of a forbidden IPv4
 * address, including the IPv6 forms that embed one (IPv4-mapped, NAT64's well-known prefix,
 * SIIT's IPv4-translated form, IPv4-compatible), and ordinary addresses in each form allowed.
 */
import { describe, expect, it } from 'vitest';
import { namesNoRemoteHost } from '../../src/core/net/no-remote-host.js';

describe('namesNoRemoteHost', () => {
  it('refuses loopback, link-local, 0/8, multicast and 240/4 in every IPv6 form that embeds IPv4', () => {
    for (const v4 of ['127.0.0.1', '169.254.169.254', '0.0.0.0', '0.1.2.3', '224.0.0.1', '255.255.255.255']) {
      expect(namesNoRemoteHost(v4), v4).toBe(true);
      for (const form of [`::ffff:${v4}`, `64:ff9b::${v4}`, `::ffff:0:${v4}`, `::${v4}`]) expect(namesNoRemoteHost(form), form).toBe(true);
    }
    expect(namesNoRemoteHost('64:ff9b::a9fe:a9fe')).toBe(true);
    expect(namesNoRemoteHost('::ffff:0:7f00:1')).toBe(true);
    // RFC 8215's local-use prefix: where the IPv4 address sits depends on the operator.
    expect(namesNoRemoteHost('64:ff9b:1::c000:20a')).toBe(true);
    for (const v6 of ['::', '::1', '::2', 'fe80::1', 'ff02::1']) expect(namesNoRemoteHost(v6), v6).toBe(true);
  });

  it('allows other hosts in each form', () => {
    for (const a of ['192.0.2.10', '198.51.100.2', '::ffff:192.0.2.10', '64:ff9b::192.0.2.10', '::ffff:0:198.51.100.2', '::192.0.2.10', '2001:db8::1', '2001:db8:64:ff9b::1']) {
      expect(namesNoRemoteHost(a), a).toBe(false);
    }
  });
});
