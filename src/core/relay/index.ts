export * from './types.js';
export * from './ports.js';
export * from './states.js';
export { RelaySession, FtpRelaySession } from './session.js';
export * from './plan.js';
