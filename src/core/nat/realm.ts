/**
 * The address translator: realm rules that say how an inside endpoint appears outside and back.
 *
 * - `static`: basic NAT, one inside address is one outside address, ports unchanged (RFC 3022
 *   section 2.1). Stateless: no table entry, never expires.
 * - `napt`: inside addresses in a block share the table's pool, ports translated (RFC 3022
 *   section 2.2) by the PortTable with its mapping, filtering and timeout behaviour.
 * - `nat64`: IPv6-only inside hosts reach IPv4 destinations named under an RFC 6052 prefix
 *   (RFC 6146); sources take an IPv4 endpoint from the table's pool, IPv4 sources coming back
 *   are shown inside under the same prefix.
 *
 * Rules are tried in order; the first whose `inside` block holds the source applies. Bad
 * configuration throws; traffic that no rule admits is a result value.
 */

import { NatAlgError } from '../errors.js';
import { cidrContains, parseCidr, type Cidr } from '../net/cidr.js';
import { canonicalAddress, endpoint, familyOf, type Endpoint } from '../net/ip.js';
import type { PortTable } from '../mapping/table.js';
import type { AllocationFailure, Expectation, Mapping, Protocol } from '../mapping/types.js';
import { extractIPv4Text, parseNat64Prefix, synthesizeIPv6, type Nat64Prefix } from './rfc6052.js';

export type RealmRule =
  | { readonly kind: 'static'; readonly inside: string; readonly outside: string }
  | { readonly kind: 'napt'; readonly inside: string }
  | { readonly kind: 'nat64'; readonly prefix: string | Nat64Prefix; readonly inside?: string };

export interface AddressTranslatorOptions {
  readonly rules: readonly RealmRule[];
  /** The table `napt` and `nat64` rules draw from. Required when such a rule exists. */
  readonly table?: PortTable;
}

type Compiled =
  | { kind: 'static'; inside: string; outside: string }
  | { kind: 'napt'; block: Cidr }
  | { kind: 'nat64'; prefix: Nat64Prefix; block: Cidr | null };

export type TranslationFailure =
  | 'no-rule' // no rule covers this source
  | 'not-embedded' // a NAT64 destination that is not under the prefix
  | 'non-global' // a non-global IPv4 address under the Well-Known Prefix (RFC 6052 section 3.1)
  | 'family-mismatch' // the destination's family cannot be reached from this source
  | 'no-mapping'
  | 'filtered'
  | 'hairpin-unreachable'
  | AllocationFailure;

export type Translation =
  | {
      readonly ok: true;
      /** The packet's source and destination as the receiving realm must see them. */
      readonly source: Endpoint;
      readonly destination: Endpoint;
      readonly rule: RealmRule['kind'];
      /** The table mapping used, null for static rules. */
      readonly mapping: Mapping | null;
      /** Inbound only: how the packet was admitted (a 1:1 rule is `static`). */
      readonly via?: 'mapping' | 'static' | 'expectation';
      /** Inbound only: the expectation the packet consumed, when `via` is `expectation`. */
      readonly expectation?: Expectation | null;
    }
  | { readonly ok: false; readonly reason: TranslationFailure };

export class AddressTranslator {
  private readonly rules: Compiled[];
  private readonly table: PortTable | null;

  constructor(options: AddressTranslatorOptions) {
    this.table = options.table ?? null;
    const pool = new Set(this.table?.options.externalAddresses ?? []);
    this.rules = options.rules.map((r): Compiled => {
      switch (r.kind) {
        case 'static': {
          const inside = canonicalAddress(r.inside);
          const outside = canonicalAddress(r.outside);
          if (familyOf(inside) !== familyOf(outside)) throw new NatAlgError('invalid-argument', 'static rule: families differ');
          if (pool.has(outside)) throw new NatAlgError('invalid-argument', `static rule: ${outside} is in the table's pool`);
          return { kind: 'static', inside, outside };
        }
        case 'napt':
          if (!this.table) throw new NatAlgError('invalid-argument', 'napt rule needs a table');
          return { kind: 'napt', block: parseCidr(r.inside) };
        case 'nat64': {
          if (!this.table) throw new NatAlgError('invalid-argument', 'nat64 rule needs a table');
          const prefix = typeof r.prefix === 'string' ? parseNat64Prefix(r.prefix) : r.prefix;
          const block = r.inside === undefined ? null : parseCidr(r.inside);
          if (block && block.family !== 6) throw new NatAlgError('invalid-argument', 'nat64 rule: inside must be an IPv6 block');
          if (familyOf(this.table.options.externalAddresses[0]!) !== 4) {
            throw new NatAlgError('invalid-argument', 'nat64 rule: the table pool must be IPv4');
          }
          return { kind: 'nat64', prefix, block };
        }
        default:
          throw new NatAlgError('invalid-argument', `unknown rule kind ${String((r as { kind: unknown }).kind)}`);
      }
    });
  }

  /** A packet from inside `source` to `destination` (as named inside). */
  outbound(protocol: Protocol, source: Endpoint, destination: Endpoint, nowMs: number): Translation {
    for (const r of this.rules) {
      if (r.kind === 'static') {
        if (source.address !== r.inside) continue;
        if (destination.family !== source.family) return { ok: false, reason: 'family-mismatch' };
        return { ok: true, source: endpoint(r.outside, source.port), destination, rule: 'static', mapping: null };
      }
      if (r.kind === 'napt') {
        if (!cidrContains(r.block, source.address)) continue;
        if (destination.family !== this.poolFamily()) return { ok: false, reason: 'family-mismatch' };
        return this.viaTable('napt', protocol, source, destination, nowMs);
      }
      if (source.family !== 6 || (r.block && !cidrContains(r.block, source.address))) continue;
      if (destination.family !== 6) return { ok: false, reason: 'family-mismatch' };
      const v4 = extractIPv4Text(r.prefix, destination.address);
      if (v4 === null) {
        // Distinguish "not under the prefix" from "refused by the Well-Known Prefix policy".
        return { ok: false, reason: r.prefix.wellKnown && this.embedsAnything(r.prefix, destination.address) ? 'non-global' : 'not-embedded' };
      }
      return this.viaTable('nat64', protocol, source, endpoint(v4, destination.port), nowMs);
    }
    return { ok: false, reason: 'no-rule' };
  }

  /** A packet from outside `source` to the NAT's `destination`. */
  inbound(protocol: Protocol, source: Endpoint, destination: Endpoint, nowMs: number): Translation {
    for (const r of this.rules) {
      if (r.kind === 'static' && destination.address === r.outside) {
        return { ok: true, source, destination: endpoint(r.inside, destination.port), rule: 'static', mapping: null, via: 'static', expectation: null };
      }
    }
    if (!this.table) return { ok: false, reason: 'no-mapping' };
    const res = this.table.inbound(protocol, source, destination, nowMs);
    if (!res.ok) return res;
    const inside = res.mapping.internal;
    if (inside.family === 6 && source.family === 4) {
      const rule = this.rules.find((r) => r.kind === 'nat64' && (!r.block || cidrContains(r.block, inside.address)));
      if (!rule || rule.kind !== 'nat64') return { ok: false, reason: 'family-mismatch' };
      const v6 = synthesizeIPv6(rule.prefix, source.address);
      if (!v6.ok) return { ok: false, reason: 'non-global' };
      return { ok: true, source: endpoint(v6.address, source.port), destination: inside, rule: 'nat64', mapping: res.mapping, via: res.via, expectation: res.expectation };
    }
    return { ok: true, source, destination: inside, rule: this.ruleOf(inside.address), mapping: res.mapping, via: res.via, expectation: res.expectation };
  }

  /**
   * How an outside address appears to an inside host at `insideAddress`: itself, or for a
   * NAT64 inside host its IPv4-embedded IPv6 form. Null when it cannot be shown (non-global
   * under the Well-Known Prefix, or no rule).
   */
  insideViewOf(outsideAddress: string, insideAddress: string): string | null {
    const inside = canonicalAddress(insideAddress);
    const outside = canonicalAddress(outsideAddress);
    for (const r of this.rules) {
      if (r.kind === 'static' && r.inside === inside) return outside;
      if (r.kind === 'napt' && cidrContains(r.block, inside)) return outside;
      if (r.kind === 'nat64' && familyOf(inside) === 6 && (!r.block || cidrContains(r.block, inside))) {
        if (familyOf(outside) === 6) return outside;
        const v6 = synthesizeIPv6(r.prefix, outside);
        return v6.ok ? v6.address : null;
      }
    }
    return null;
  }

  private viaTable(rule: 'napt' | 'nat64', protocol: Protocol, source: Endpoint, destination: Endpoint, nowMs: number): Translation {
    const res = this.table!.outbound(protocol, source, destination, nowMs);
    if (!res.ok) return res;
    // A hairpinned packet goes back inside: its destination is the internal endpoint.
    const dest = res.hairpin ? res.hairpin.internal : destination;
    return { ok: true, source: res.mapping.external, destination: dest, rule, mapping: res.mapping };
  }

  private poolFamily(): 4 | 6 {
    return familyOf(this.table!.options.externalAddresses[0]!);
  }

  private ruleOf(insideAddress: string): RealmRule['kind'] {
    for (const r of this.rules) {
      if (r.kind === 'napt' && cidrContains(r.block, insideAddress)) return 'napt';
      if (r.kind === 'nat64' && familyOf(insideAddress) === 6) return 'nat64';
    }
    return 'napt';
  }

  private embedsAnything(prefix: Nat64Prefix, v6: string): boolean {
    // Under the prefix at all? Compare with a permissive copy of the prefix.
    return extractIPv4Text({ ...prefix, wellKnown: false }, v6) !== null;
  }
}
