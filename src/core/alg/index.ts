export type { AlgContext, GatewaySide, AlgEvent, AlgModule, AlgTranslator, DataChannelMode, DataChannelRequest } from './contract.js';
export { AlgRegistry } from './registry.js';
export { builtinAlgs } from './builtin.js';
