/**
 * DCC offers written as CTCP bodies (`DCC SEND ...`, without the \x01s), for tests and for
 * offers an ALG makes itself. Strict: a field that cannot be written so that parseDcc reads it
 * back (a filename with a quote, a port out of range) throws NatAlgError.
 * A filename with a space is quoted; the address is written as an integer (IPv4) or text (IPv6)
 * unless another form is asked for.
 */

import { NatAlgError } from '../errors.js';
import { formatDccAddress, type DccAddressForm } from './dcc-address.js';
import { CHAT_LAYOUT, dccLayoutOf, MAX_DCC_NUMBER, MAX_DCC_TOKEN_LENGTH, SEND_LAYOUT, type DccLayout } from './dcc-layout.js';

/** What `formatDcc` writes: an offer without spans. */
export type DccOfferFields =
  | {
      readonly kind: 'send';
      /** Default 'SEND'; any verb with SEND's layout. */
      readonly verb?: string;
      readonly filename: string;
      readonly address: string;
      /** Default: 'integer' for IPv4, 'ipv6' for IPv6. */
      readonly addressForm?: DccAddressForm;
      readonly port: number;
      readonly size?: number;
      readonly token?: string;
    }
  | {
      readonly kind: 'chat';
      readonly verb?: string;
      /** Default 'chat'. */
      readonly protocol?: string;
      readonly address: string;
      readonly addressForm?: DccAddressForm;
      readonly port: number;
      readonly token?: string;
    }
  | {
      readonly kind: 'resume' | 'accept';
      readonly filename: string;
      readonly port: number;
      readonly position: number;
      readonly token?: string;
    };

function invalid(message: string): never {
  throw new NatAlgError('invalid-argument', message);
}

function checkNumber(value: number, max: number, what: string): string {
  if (!Number.isInteger(value) || value < 0 || value > max) invalid(`${what} must be an integer 0-${max}, got ${value}`);
  return String(value);
}

function checkToken(token: string): string {
  if (!/^[\x21\x23-\x7e]{1,64}$/.test(token)) invalid(`a DCC token is 1-${MAX_DCC_TOKEN_LENGTH} printable ASCII characters other than '"'`);
  return token;
}

/**
 * A filename as it is written: quoted when it holds a space, plain otherwise. A name with `"`,
 * \x01, CR, LF or NUL cannot be written and throws.
 */
function writeFilename(name: string): string {
  if (name.length === 0 || /[\x00\x01\r\n"]/.test(name)) invalid(`a DCC filename must be non-empty without ", \\x01, CR, LF or NUL: ${JSON.stringify(name.slice(0, 80))}`);
  return name.includes(' ') ? `"${name}"` : name;
}

function writeAddress(address: string, form: DccAddressForm | undefined): string {
  return formatDccAddress(address, form ?? (address.includes(':') ? 'ipv6' : 'integer'));
}

function checkVerb(verb: string, layout: DccLayout): string {
  const v = verb.toUpperCase();
  if (dccLayoutOf(v) !== layout) invalid(`verb ${JSON.stringify(verb)} does not have the ${layout.kind} layout`);
  return v;
}

/**
 * The CTCP body of an offer (`DCC SEND ...`, without the \x01s). Throws NatAlgError when a field
 * cannot be written. Filenames are text; encode the message as UTF-8.
 */
export function formatDcc(fields: DccOfferFields): string {
  const token = fields.token !== undefined ? ` ${checkToken(fields.token)}` : '';
  switch (fields.kind) {
    case 'send': {
      const verb = checkVerb(fields.verb ?? 'SEND', SEND_LAYOUT);
      if (token !== '' && fields.size === undefined) invalid('a SEND token needs a size before it');
      const size = fields.size !== undefined ? ` ${checkNumber(fields.size, MAX_DCC_NUMBER, 'size')}` : '';
      return `DCC ${verb} ${writeFilename(fields.filename)} ${writeAddress(fields.address, fields.addressForm)} ${checkNumber(fields.port, 65535, 'port')}${size}${token}`;
    }
    case 'chat': {
      const verb = checkVerb(fields.verb ?? 'CHAT', CHAT_LAYOUT);
      const protocol = fields.protocol ?? 'chat';
      if (!/^[\x21\x23-\x7e]{1,32}$/.test(protocol)) invalid(`a DCC CHAT protocol is one printable word: ${JSON.stringify(protocol.slice(0, 80))}`);
      return `DCC ${verb} ${protocol} ${writeAddress(fields.address, fields.addressForm)} ${checkNumber(fields.port, 65535, 'port')}${token}`;
    }
    case 'resume':
    case 'accept':
      return `DCC ${fields.kind.toUpperCase()} ${writeFilename(fields.filename)} ${checkNumber(fields.port, 65535, 'port')} ${checkNumber(fields.position, MAX_DCC_NUMBER, 'position')}${token}`;
  }
}
