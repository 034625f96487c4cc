/**
 * `nat-alg nat`: runs a packet gateway (src/node/packet-gateway.ts) until a signal. The ready
 * line, the log lines and the exit codes behave as `nat-alg ftp`'s; the process is reached only
 * through `CliIo`.
 */

import { builtinAlgs } from '../core/alg/builtin.js';
import { NatAlgError } from '../core/errors.js';
import { formatEndpoint } from '../core/net/ip.js';
import type { PacketNatOptions } from '../core/packet/index.js';
import { PacketGateway } from '../node/packet-gateway.js';
import type { CliIo } from './relay-command.js';
import { formatLogEntry } from './log.js';
import type { NatCommandOptions } from './nat-args.js';

/** Exit codes: 0 clean stop, 1 runtime failure, 2 usage error (bad option values). */
export async function runNatCommand(o: NatCommandOptions, io: CliIo): Promise<number> {
  let gateway: PacketGateway;
  try {
    const nat: PacketNatOptions = {
      externalAddresses: [...new Set([...o.natAddresses, ...(o.nat64?.pool ?? [])])],
      // The mapping table's RFC 6056 secrets: the process's own randomness is right here.
      random: Math.random,
      ...(o.insideNetworks.length > 0 ? { insideNetworks: o.insideNetworks } : {}),
      forwards: o.forwards,
      oneToOne: o.oneToOne,
      ...(o.nat64 ? { nat64: { prefix: o.nat64.prefix } } : {}),
      algs: o.algs.map((a) => {
        if (!builtinAlgs.find(a.name)) throw new NatAlgError('invalid-argument', `--alg: unknown ALG ${JSON.stringify(a.name)} (known: ${builtinAlgs.names.join(', ')})`);
        return a.port === undefined ? { alg: a.name } : { alg: a.name, port: a.port };
      }),
      ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
    };
    gateway = new PacketGateway({
      nat,
      inside: { local: o.inside, ...(o.insidePeer ? { peer: o.insidePeer } : {}) },
      outside: { local: o.outside, ...(o.outsidePeer ? { peer: o.outsidePeer } : {}) },
      logger: (entry) => {
        if (entry.level === 'debug' && !o.verbose) return;
        io.err(formatLogEntry(entry, o.log, io.now()));
      },
    });
  } catch (e) {
    io.err(`nat-alg nat: ${(e as Error).message}`);
    return e instanceof NatAlgError ? 2 : 1;
  }
  let bound;
  try {
    bound = await gateway.start();
  } catch (e) {
    io.err(`nat-alg nat: cannot bind: ${(e as Error).message}`);
    await gateway.close();
    return 1;
  }
  const pool = [...new Set([...o.natAddresses, ...(o.nat64?.pool ?? [])])].join(',');
  io.out(`nat-alg nat: inside udp:${formatEndpoint(bound.inside)}, outside udp:${formatEndpoint(bound.outside)}, nat ${pool}${o.nat64 ? `, nat64 ${o.nat64.prefix}` : ''}`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number): void => {
      if (stopping) return;
      stopping = true;
      removeSignal();
      const s = gateway.stats();
      io.err(`nat-alg nat: stopping (${s.sessions} sessions, ${s.received.inside + s.received.outside} packets in, ${s.sent.inside + s.sent.outside} out)`);
      gateway.close().then(
        () => resolve(code),
        () => resolve(1),
      );
    };
    gateway.on('error', (err: Error) => {
      io.err(`nat-alg nat: ${err.message}`);
      stop(1);
    });
    const removeSignal = io.onSignal(() => stop(0));
  });
}
