/**
 * The relay session for embedders that bring their own transport (docs/relay.md, "The session
 * without node:net"): the session, its options, actions and events, the data-port sources it
 * draws listener ports from, and the per-client budget of waiting data listeners its sessions
 * share. The state tables (states.ts) and the data-channel plan (plan.ts) are the session's own
 * rules and stay inside this folder; only the plan's type leaves it, on the `listen` action.
 */
export type {
  DataByteCounts,
  FtpRelaySessionOptions,
  RelayAction,
  AnnouncedAddress,
  RelayBaseOptions,
  RelayEvent,
  RelaySessionOptions,
  RelayTimeouts,
  SessionByteCounts,
  Side,
} from './types.js';
export { DEFAULT_RELAY_TIMEOUTS } from './types.js';
export { MappedPortSource, PortRangeSource, type DataPortSource } from './ports.js';
export { ClientWaitingBudgets, type WaitingChannelBudget } from './client-budget.js';
export type { LoginState, SessionState } from './states.js';
// The plan's shape only (it rides on the `listen` action); planDataChannel itself stays inside.
export type { ChannelPlan } from './plan.js';
export { RelaySession, FtpRelaySession } from './session.js';
