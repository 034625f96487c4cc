/**
 * An offer's address is canonicalized once, where it is read: the planner, the policy checks
 * (which compare canonical strings) and the offer table take it as it is. These properties hold
 * that up: every address readDccAddress reads, in any spelling a peer may send, is canonical text
 * already, and the rewrite's spelling from canonical text is formatDccAddress's from any text.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dccAddressFormFor, formatDccAddress, readDccAddress, type DccAddressForm } from '../../src/core/irc/index.js';
import { formForFamily, spellCanonical } from '../../src/core/irc/dcc-address.js';
import { canonicalAddress, familyOf } from '../../src/core/net/ip.js';
import { b } from './helpers.js';

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6().filter((a) => !a.includes('%'));
const integer = fc.integer({ min: 0, max: 4294967295 }).map(String);
/** IPv6 text in upper case, IPv4-mapped and with an embedded dotted quad: spellings that are not canonical. */
const spelled = fc.oneof(
  ipv6.map((a) => a.toUpperCase()),
  ipv4.map((a) => `::ffff:${a}`),
  ipv4.map((a) => `::FFFF:${a}`),
  ipv4.map((a) => `64:ff9b::${a}`),
);
const forms = fc.constantFrom<DccAddressForm>('integer', 'ipv4-text', 'ipv6');

describe('offer addresses are canonical as read', () => {
  it('readDccAddress gives canonical text for every spelling it accepts', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6, integer, spelled), (text) => {
        const bytes = b(text);
        const a = readDccAddress(bytes, 0, bytes.length);
        if (a === null) return;
        expect(canonicalAddress(a.address)).toBe(a.address);
      }),
      { numRuns: 3000 },
    );
  });

  it('the rewrite spells canonical text as formatDccAddress spells any text of it', () => {
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6, spelled), forms, forms, (text, form, previous) => {
        const canonical = canonicalAddress(text);
        expect(formForFamily(familyOf(canonical), previous)).toBe(dccAddressFormFor(text, previous));
        let expected: string | Error;
        try {
          expected = formatDccAddress(text, form);
        } catch (e) {
          expected = e as Error;
        }
        if (typeof expected === 'string') expect(spellCanonical(canonical, form)).toBe(expected);
        else expect(() => spellCanonical(canonical, form, text)).toThrow(expected.message);
      }),
      { numRuns: 3000 },
    );
  });
});
