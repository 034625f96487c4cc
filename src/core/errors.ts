/**
 * Typed errors for misuse of the API. Runtime trouble caused by peers (bad bytes, refused
 * commands) is never thrown: it is reported as events. An error thrown by nat-alg always says
 * whose fault it was (`side`) and what kind of mistake it is (`kind`), so callers can branch on
 * data rather than on message text.
 */

export type NatAlgErrorKind =
  | 'invalid-argument' // a value passed to the API is malformed or out of range
  | 'invalid-state' // the call is not allowed in the object's current state
  | 'unknown-id' // an id that this object never issued, or already settled
  | 'capacity'; // a configured limit would be exceeded by the call

/** Node-style codes, one per kind, for callers that branch on `err.code` as they do for Node's own errors. */
export const NAT_ALG_ERROR_CODES = {
  'invalid-argument': 'ERR_NAT_ALG_INVALID_ARGUMENT',
  'invalid-state': 'ERR_NAT_ALG_INVALID_STATE',
  'unknown-id': 'ERR_NAT_ALG_UNKNOWN_ID',
  capacity: 'ERR_NAT_ALG_CAPACITY',
} as const satisfies Record<NatAlgErrorKind, string>;

export type NatAlgErrorCode = (typeof NAT_ALG_ERROR_CODES)[NatAlgErrorKind];

export class NatAlgError extends Error {
  readonly kind: NatAlgErrorKind;
  /** `ERR_NAT_ALG_*`, the kind in Node's style. */
  readonly code: NatAlgErrorCode;
  /** Misuse of the API is always the caller's fault; kept for symmetry with protocol errors. */
  readonly side = 'local' as const;

  constructor(kind: NatAlgErrorKind, message: string) {
    super(message);
    this.name = 'NatAlgError';
    this.kind = kind;
    this.code = NAT_ALG_ERROR_CODES[kind];
  }
}

/** A textual address or endpoint that does not parse. */
export class AddressError extends NatAlgError {
  readonly input: string;

  constructor(input: string, reason: string) {
    super('invalid-argument', `invalid address ${JSON.stringify(input.slice(0, 80))}: ${reason}`);
    this.name = 'AddressError';
    this.input = input;
  }
}
