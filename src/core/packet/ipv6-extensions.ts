/**
 * The IPv6 extension-header chain (RFC 8200 section 4): from the fixed header's Next Header to
 * the upper-layer protocol, one header at a time.
 *
 * The walk is bounded twice, because a stranger chooses the chain: at most `maxExtensionHeaders`
 * headers and at most `maxExtensionBytes` bytes of them, beside the bound of the packet itself.
 * Every step moves forward by at least 8 bytes, so the walk always ends.
 *
 * Rules enforced (each a verdict, never an exception):
 * - Hop-by-Hop Options only first, straight after the fixed header (RFC 8200 section 4.1);
 * - at most one Fragment header;
 * - every header lies within the packet.
 * A Fragment header that is not atomic (offset or M flag set) ends the walk: what follows it is
 * the fragmentable part, to be read after reassembly. An atomic fragment (offset 0, M clear) is
 * walked through and the packet handled on its own (RFC 6946).
 */

import { NatAlgError } from '../errors.js';
import { IpProtocol, isIpv6ExtensionHeader } from './ip-protocol.js';

export interface Ipv6Limits {
  /** Extension headers walked before giving up. Default 8. */
  readonly maxExtensionHeaders: number;
  /** Bytes of extension headers walked before giving up. Default 1024. */
  readonly maxExtensionBytes: number;
}

export const DEFAULT_IPV6_LIMITS: Ipv6Limits = Object.freeze({ maxExtensionHeaders: 8, maxExtensionBytes: 1024 });

/** Fill in defaults and check limits given by the programmer (throws NatAlgError when bad). */
export function ipv6Limits(o: Partial<Ipv6Limits> | undefined): Ipv6Limits {
  const maxExtensionHeaders = o?.maxExtensionHeaders ?? DEFAULT_IPV6_LIMITS.maxExtensionHeaders;
  const maxExtensionBytes = o?.maxExtensionBytes ?? DEFAULT_IPV6_LIMITS.maxExtensionBytes;
  if (!Number.isInteger(maxExtensionHeaders) || maxExtensionHeaders < 0 || maxExtensionHeaders > 255) {
    throw new NatAlgError('invalid-argument', 'maxExtensionHeaders must be an integer 0-255');
  }
  if (!Number.isInteger(maxExtensionBytes) || maxExtensionBytes < 0 || maxExtensionBytes > 65535) {
    throw new NatAlgError('invalid-argument', 'maxExtensionBytes must be an integer 0-65535');
  }
  return { maxExtensionHeaders, maxExtensionBytes };
}

/**
 * - truncated: an extension header runs past the end of the packet;
 * - too-many-extension-headers / extension-headers-too-long: a bound was passed;
 * - bad-extension-header: Hop-by-Hop not first, or a second Fragment header.
 */
export type Ipv6ChainDropReason = 'truncated' | 'too-many-extension-headers' | 'extension-headers-too-long' | 'bad-extension-header';

/** Fragment header layout (RFC 8200 section 4.5), from the header's start. */
export const Ipv6FragmentField = { NextHeader: 0, OffsetFlags: 2, Identification: 4 } as const;
const FRAGMENT_HEADER_LENGTH = 8;

/** The result of a walk: where the upper layer starts and what the chain held. Reused per walk. */
export class Ipv6HeaderChain {
  /** Protocol of the upper layer (or what follows a non-atomic Fragment header). */
  upperProtocol = 0;
  /** Offset of the upper-layer header in the buffer. */
  upperOffset = 0;
  /** Extension headers walked. */
  count = 0;
  /** Offset of the Fragment header, or -1. */
  fragmentAt = -1;
  /** Offset of the Next Header byte that names the Fragment header (in the fixed header or the previous extension), or -1. */
  fragmentLinkAt = -1;
  /** The Fragment header is a real fragment (not atomic): the walk stopped after it. */
  fragmented = false;

  /** Reset to "no extension headers, upper layer at `at`". */
  clear(at: number): void {
    this.upperProtocol = 0;
    this.upperOffset = at;
    this.count = 0;
    this.fragmentAt = -1;
    this.fragmentLinkAt = -1;
    this.fragmented = false;
  }

  /**
   * Walk from the Next Header byte at bytes[nextHeaderAt] over headers starting at `from`, not
   * past `end`. Returns null when the upper layer was reached, else the reason.
   */
  walk(bytes: Uint8Array, nextHeaderAt: number, from: number, end: number, limits: Ipv6Limits): Ipv6ChainDropReason | null {
    let nh = bytes[nextHeaderAt]!;
    let link = nextHeaderAt;
    let at = from;
    let count = 0;
    this.fragmentAt = -1;
    this.fragmentLinkAt = -1;
    this.fragmented = false;
    this.count = 0;
    this.upperProtocol = nh;
    this.upperOffset = at;
    while (isIpv6ExtensionHeader(nh)) {
      if (nh === IpProtocol.HopByHop && count > 0) return 'bad-extension-header';
      if (count >= limits.maxExtensionHeaders) return 'too-many-extension-headers';
      if (end - at < 8) return 'truncated';
      // Lengths exclude the first 8 bytes, in 8-byte units, except AH (4-byte units, less 2,
      // RFC 4302) and the fixed-size Fragment header, whose second byte is reserved.
      const len = nh === IpProtocol.Ipv6Fragment ? FRAGMENT_HEADER_LENGTH : nh === IpProtocol.Ah ? (bytes[at + 1]! + 2) << 2 : (bytes[at + 1]! + 1) << 3;
      if (at + len - from > limits.maxExtensionBytes) return 'extension-headers-too-long';
      if (at + len > end) return 'truncated';
      count++;
      if (nh === IpProtocol.Ipv6Fragment) {
        if (this.fragmentAt >= 0) return 'bad-extension-header';
        this.fragmentAt = at;
        this.fragmentLinkAt = link;
        // Offset (top 13 bits, 8-byte units), 2 reserved bits and the M flag (bit 0) share the
        // word after the reserved byte: a real fragment has offset or M set.
        const word = (bytes[at + Ipv6FragmentField.OffsetFlags]! << 8) | bytes[at + Ipv6FragmentField.OffsetFlags + 1]!;
        if ((word & 0xfff9) !== 0) {
          this.fragmented = true;
          this.count = count;
          this.upperProtocol = bytes[at]!;
          this.upperOffset = at + len;
          return null;
        }
      }
      link = at;
      nh = bytes[at]!;
      at += len;
    }
    this.count = count;
    this.upperProtocol = nh;
    this.upperOffset = at;
    return null;
  }
}
