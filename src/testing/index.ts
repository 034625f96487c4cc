/**
 * nat-alg/testing: tools for testing gateways (this project's and yours). See docs/testing.md.
 *
 * - The sans-I/O harness (`runSession`, harness.ts): a scripted control session through any ALG
 *   translator in any chunking, data-channel requests answered by a resolver, output and events
 *   collected. No sockets, no timers.
 * - Scriptable FTP peers over node:net (`FtpTestServer`, `FtpTestClient`). Every control line
 *   either peer sends or receives is recorded, so a test can compare what one side sent with
 *   what the other received.
 *
 * ```ts
 * const server = new FtpTestServer({ files: { 'a.bin': bytes } });
 * await server.listen();                               // 127.0.0.1, any free port
 * server.scriptPasv('no-parentheses', { splitAt: [5] }); // an odd 227, written in two pieces
 * // ... start your gateway in front of server.endpoint ...
 * const client = await FtpTestClient.connect(gateway, { mode: 'pasv' });
 * await client.login();
 * expect(await client.retrieve('a.bin')).toEqual(bytes);
 * expect(server.received()).toContain('PASV');         // what the server really got
 * ```
 */

export { NatAlgError, type NatAlgErrorCode, type NatAlgErrorKind } from '../core/errors.js';
export {
  applyEdits,
  bytesOf,
  chunkings,
  concatBytes,
  editsOf,
  fromClient,
  fromServer,
  gatewayEndpoints,
  refuseAll,
  runSession,
  textOf,
  type Chunking,
  type DataChannelAnswer,
  type DataChannelResolver,
  type EventOf,
  type RequestOf,
  type RunSessionOptions,
  type ScriptStep,
  type SessionRun,
} from './harness.js';
export { FtpTestServer, type FtpTestServerOptions } from './server.js';
export {
  FtpServerSession,
  MAX_COMMAND_LINE,
  type CommandContext,
  type CommandHandler,
  type DataConnectionRecord,
} from './server-session.js';
export { FtpTestClient, type FtpTestClientOptions, type TransferMode } from './client.js';
export {
  formatEpsvReply,
  formatPasvReply,
  formatReply,
  MAX_REPLY_LENGTH,
  parseEpsvReply,
  parsePasvReply,
  ReplyReader,
  type FtpReply,
  type PasvShape,
} from './reply.js';
export { FtpTestError, MAX_TRANSFER_BYTES } from './data.js';
export { formatTranscript, LineRecorder, MAX_RECORDED_LINE, visible, type ControlLine, type ControlSource } from './transcript.js';
export type { FileMap } from './files.js';
