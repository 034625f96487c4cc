/**
 * The packet NAT: raw IPv4/IPv6 packets in, translated packets out, sans-I/O.
 *
 *   const nat = new PacketNat({ externalAddresses: ['203.0.113.1'], random: Math.random });
 *   const v = nat.handle('inside', packet, nowMs);   // forward (in place) | consumed | drop
 *   for (let t = nat.pollTransmit(); t; t = nat.pollTransmit()) send(t.to, t.packet);
 *   nat.pollTimeout() / nat.handleTimeout(nowMs) / nat.pollEvent()
 *
 * What decides: the port-mapping table (mapping and filtering behaviours, timeouts, port forwards,
 * expectations, hairpinning) and the address translator's realm rules (1:1, NAPT, NAT64), both of
 * src/core; this file keeps sessions over them (flows with their two legs, TCP state for the
 * RFC 5382 timeouts, ALGs) and moves bytes.
 *
 * Per packet:
 * - a fast path for IPv4 TCP/UDP packets of established sessions without an ALG, without IP
 *   options and not fragments: one flow-index lookup and a precomputed incremental rewrite, in
 *   place (see `fast`); everything else takes the general path, which does the same for those
 *   packets (a test compares the two);
 * - the general path parses with checked views (a malformed packet is a typed drop, never an
 *   exception), reassembles fragments (bounded, fragments.ts) and fragments the result again for
 *   the MTU, opens sessions (TCP only on a SYN), tracks TCP state, hands ALG connections' segments
 *   to their AlgConnection, translates ICMP errors with their quoted packet, and NAT64 packets.
 *
 * Sessions end when idle past their timeout (the table's for their protocol and TCP phase), when
 * their mapping expires, or when a new connection reuses a closed TCP 4-tuple (then it starts over).
 */

import type { AlgContext, AlgModule } from '../alg/contract.js';
import { builtinAlgs } from '../alg/builtin.js';
import { NatAlgError } from '../errors.js';
import { EventQueue } from '../mapping/event-queue.js';
import { PortTable } from '../mapping/table.js';
import { TimerHeap } from '../mapping/timer-heap.js';
import type { ProtocolPolicy, Protocol } from '../mapping/types.js';
import { canonicalAddress, endpoint, familyOf, parseAddress, type Endpoint } from '../net/ip.js';
import { AddressTranslator, type RealmRule } from '../nat/realm.js';
import { CLIENT_TO_SERVER, SERVER_TO_CLIENT } from '../stream/translator.js';
import { AlgConnection, type AlgConnectionHost } from './alg-connection.js';
import { planPacketDataChannel } from './data-channel-plan.js';
import { FlowTable, MAX_FLOW_VALUE, flowTag } from './flow-table.js';
import { fragmentIpv4, fragmentIpv6 } from './fragmenter.js';
import { Reassembler } from './fragments.js';
import { IcmpQuote } from './icmp-quote.js';
import { buildIcmpErrorAcross, rewriteIcmpErrorInPlace } from './icmp-error.js';
import type { Icmpv4Message, Icmpv6Message } from './icmp.js';
import { IpProtocol } from './ip-protocol.js';
import { Ipv4Packet, emitIpv4Header } from './ipv4.js';
import { internetChecksum } from './checksum.js';
import { applyLeg4, Leg } from './leg.js';
import { icmpErrorType4to6, icmpErrorType6to4, translateAcrossFamilies } from './nat64-translate.js';
import { NatSession } from './nat-session.js';
import { LegFlag, SessionRows, checkAtOf, flagsAt, lastSeenOf, legAt } from './session-rows.js';
import type { NatDropReason, PacketNatEvent, PacketNatOptions, PacketNatStats, PacketNatVerdict, SessionCloseReason, NatSide, Transmit } from './nat-types.js';
import { PacketParser, type IpPacket, type TransportView } from './packet.js';
import { rewriteIpv4Endpoint, rewriteIpv6Endpoint } from './endpoint-rewrite.js';
import { seqDiff } from './seq-number.js';
import { TcpFlag, type TcpSegment } from './tcp.js';
import { TcpOptions } from './tcp-options.js';
import { isRestart, nextTcpState, tcpEventOf, tcpPhase } from './tcp-tracker.js';

/** Talk to the mapping table (refresh, liveness) at most this often per session. */
const REFRESH_MS = 1000;

const FORWARD_INSIDE: PacketNatVerdict = Object.freeze({ ok: true, action: 'forward', to: 'inside' });
const FORWARD_OUTSIDE: PacketNatVerdict = Object.freeze({ ok: true, action: 'forward', to: 'outside' });
const CONSUMED: PacketNatVerdict = Object.freeze({ ok: true, action: 'consumed' });
const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'icmp'];

function forwardTo(side: NatSide): PacketNatVerdict {
  return side === 'inside' ? FORWARD_INSIDE : FORWARD_OUTSIDE;
}

interface AlgBinding {
  readonly module: AlgModule;
  readonly options: unknown;
  /** Data channels a connection may have waiting at once (the module's own limit). */
  readonly maxWaiting: number;
}

/** A FIFO of packets to send, bounded; overflow is counted. */
class TransmitQueue {
  private items: Transmit[] = [];
  private head = 0;
  dropped = 0;
  sent = 0;
  constructor(private readonly max: number) {}
  push(t: Transmit): void {
    if (this.items.length - this.head >= this.max) {
      this.dropped++;
      return;
    }
    this.items.push(t);
  }
  poll(): Transmit | null {
    if (this.head >= this.items.length) return null;
    const t = this.items[this.head++]!;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    this.sent++;
    return t;
  }
}

export class PacketNat {
  /** The port-mapping table (read it for mappings and expectations; the NAT drives its timers). */
  readonly table: PortTable;
  readonly translator: AddressTranslator;
  private readonly parser: PacketParser;
  /** One reassembler per side: fragments from one side never complete a datagram of the other. */
  private readonly reassemblers: Record<NatSide, Reassembler>;
  private readonly quote = new IcmpQuote();
  private readonly tcpOptions = new TcpOptions();
  private readonly flows: FlowTable;
  private sessions: (NatSession | null)[] = [];
  /** Beside `sessions`, by slot: what the fast path reads of a session and its legs. */
  private readonly rows = new SessionRows();
  private freeSlots: number[] = [];
  private live = 0;
  private nextId = 1;
  private readonly heap = new TimerHeap(256);
  private readonly bySessionId = new Map<number, NatSession>();
  private readonly byMapping = new Map<number, NatSession[]>();
  private readonly events: EventQueue<PacketNatEvent>;
  private readonly transmits: TransmitQueue;
  private readonly algs = new Map<number, AlgBinding>();
  private readonly oneToOne = new Map<string, string>();
  private readonly pool: ReadonlySet<string>;
  private readonly policies: readonly [ProtocolPolicy, ProtocolPolicy, ProtocolPolicy];
  private readonly mtu: number;
  private readonly maxSessions: number;
  private readonly fastPath: boolean;
  private readonly algLimits: ConstructorParameters<typeof AlgConnection>[3];
  private readonly drops: Record<string, number> = {};
  private forwarded = 0;
  private consumed = 0;
  private ident = 1;

  constructor(options: PacketNatOptions) {
    const random = typeof options.random === 'function' ? options.random : options.random.random.bind(options.random);
    this.table = new PortTable({ ...(options.table ?? {}), externalAddresses: options.externalAddresses, random: options.random });
    this.pool = new Set(options.externalAddresses.map(canonicalAddress));
    this.policies = this.table.options.policies;
    const poolFamily = familyOf([...this.pool][0]!);
    for (const f of options.forwards ?? []) {
      const r = this.table.addStatic({ protocol: f.protocol, internal: f.internal, external: f.external });
      if (!r.ok) throw new NatAlgError('invalid-argument', `port forward ${f.external.address}:${f.external.port}: ${r.reason}`);
    }
    const rules: RealmRule[] = [];
    for (const o of options.oneToOne ?? []) {
      rules.push({ kind: 'static', inside: o.inside, outside: o.outside });
      this.oneToOne.set(canonicalAddress(o.inside), canonicalAddress(o.outside));
    }
    for (const n of options.insideNetworks ?? [poolFamily === 4 ? '0.0.0.0/0' : '::/0']) rules.push({ kind: 'napt', inside: n });
    if (options.nat64) rules.push({ kind: 'nat64', prefix: options.nat64.prefix, ...(options.nat64.inside !== undefined ? { inside: options.nat64.inside } : {}) });
    this.translator = new AddressTranslator({ rules, table: this.table });
    const registry = options.registry ?? builtinAlgs;
    for (const c of options.algs ?? [{ alg: 'ftp' }]) {
      const module = typeof c.alg === 'string' ? registry.find(c.alg) : c.alg;
      if (!module) throw new NatAlgError('invalid-argument', `unknown ALG ${String(c.alg)}`);
      module.validate(c.options);
      const port = c.port ?? module.defaultPort;
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new NatAlgError('invalid-argument', `ALG port must be 1-65535, got ${port}`);
      if (this.algs.has(port)) throw new NatAlgError('invalid-argument', `two ALGs on port ${port}`);
      this.algs.set(port, { module, options: c.options, maxWaiting: Math.max(1, module.maxWaitingChannels(c.options)) });
    }
    this.mtu = options.mtu ?? 1500;
    if (!Number.isInteger(this.mtu) || this.mtu < 1280 || this.mtu > 65535) throw new NatAlgError('invalid-argument', 'mtu must be 1280-65535');
    this.maxSessions = options.maxSessions ?? 262_144;
    // A flow-index value is slot * 2 + leg and must fit its entry (flow-table.ts).
    const most = Math.floor((MAX_FLOW_VALUE - 1) / 2) + 1;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1 || this.maxSessions > most) throw new NatAlgError('invalid-argument', `maxSessions must be 1-${most}`);
    this.parser = new PacketParser({ verifyChecksums: options.verifyChecksums ?? false });
    this.fastPath = !(options.verifyChecksums ?? false);
    this.reassemblers = { inside: new Reassembler(options.reassembly ?? {}), outside: new Reassembler(options.reassembly ?? {}) };
    this.flows = new FlowTable(random);
    this.events = new EventQueue(options.maxQueuedEvents ?? 65_536);
    this.transmits = new TransmitQueue(options.maxQueuedPackets ?? 65_536);
    this.algLimits = {
      maxAheadBytes: options.algMaxAheadBytes ?? 65_536,
      maxRetainedBytes: options.algMaxRetainedBytes ?? 262_144,
      maxOutstandingEdits: options.algMaxOutstandingEdits ?? 4_096,
      retransmitMs: options.algRetransmitMs ?? 1_000,
      maxRetransmitMs: 60_000,
      mtu: this.mtu,
    };
  }

  // ================================================================== packets in

  /**
   * A packet that arrived on `side` (raw IP, the whole Uint8Array). The verdict says what to do
   * with it; packets of the NAT's own making wait in `pollTransmit`. Never throws on bad bytes.
   */
  handle(side: NatSide, packet: Uint8Array, nowMs: number): PacketNatVerdict {
    if (this.fastPath) {
      // The fast path only forwards (or declines: null).
      const f = this.fast(side, packet, nowMs);
      if (f !== null) {
        this.forwarded++;
        return f;
      }
    }
    const v = this.general(side, packet, nowMs);
    if (v.ok) {
      if (v.action === 'forward') this.forwarded++;
      else this.consumed++;
    }
    return v;
  }

  /**
   * IPv4 TCP/UDP of an established, ALG-free session, IHL 5, not a fragment, no SYN/FIN/RST:
   * translated in place with the precomputed rewrite in the session's row. Null: take the general
   * path.
   */
  private fast(side: NatSide, b: Uint8Array, nowMs: number): PacketNatVerdict | null {
    const n = b.length;
    if (n < 28 || b[0] !== 0x45) return null;
    const tl = (b[2]! << 8) | b[3]!;
    if (tl > n || tl < 28 || (b[6]! & 0x3f) !== 0 || b[7] !== 0) return null;
    const proto = b[9]!;
    let pi: number;
    if (proto === IpProtocol.Tcp) {
      if (tl < 40) return null;
      const doff = (b[32]! >> 4) << 2;
      if (doff < 20 || 20 + doff > tl || (b[33]! & 0x07) !== 0) return null;
      pi = 0;
    } else if (proto === IpProtocol.Udp) {
      const ulen = (b[24]! << 8) | b[25]!;
      if (ulen < 8 || ulen > tl - 20) return null;
      pi = 1;
    } else return null;
    const v = this.flows.get4(
      side === 'inside' ? pi : 4 + pi,
      ((b[12]! << 24) | (b[13]! << 16) | (b[14]! << 8) | b[15]!) >>> 0,
      ((b[16]! << 24) | (b[17]! << 16) | (b[18]! << 8) | b[19]!) >>> 0,
      ((b[20]! << 24) | (b[21]! << 16) | (b[22]! << 8) | b[23]!) >>> 0,
    );
    if (v < 0) return null;
    // The session's row (session-rows.ts), not the session: see NatSession.takesFastPath.
    const rows = this.rows;
    const at = legAt(v);
    const flags = rows.words[flagsAt(at)]!;
    if ((flags & LegFlag.Fast) === 0 || nowMs >= rows.times[checkAtOf(v)]!) return null;
    if (flags & LegFlag.Refreshes) rows.times[lastSeenOf(v)] = nowMs;
    applyLeg4(b, 0, 20, pi === 1, rows.words, at);
    return flags & LegFlag.ToInside ? FORWARD_INSIDE : FORWARD_OUTSIDE;
  }

  private general(side: NatSide, packet: Uint8Array, nowMs: number): PacketNatVerdict {
    const v = this.parser.parse(packet);
    if (!v.ok) return this.drop(v.reason);
    if (v.kind === 'fragment') {
      const r = this.reassemblers[side].handleFragment(packet, nowMs);
      if (!r.ok) return this.drop(r.reason);
      if (r.status === 'pending') return CONSUMED;
      // The whole datagram: translated like any packet, then sent in fragments again.
      const whole = this.parser.parse(r.packet);
      if (!whole.ok || whole.kind !== 'packet') return this.drop(whole.ok ? 'truncated' : whole.reason);
      const res = this.packet(side, whole.ip, whole.transport, nowMs);
      if (res.ok && res.action === 'forward') {
        this.send(res.to, r.packet);
        return CONSUMED;
      }
      return res;
    }
    return this.packet(side, v.ip, v.transport, nowMs);
  }

  private packet(side: NatSide, ip: IpPacket, t: TransportView, nowMs: number): PacketNatVerdict {
    switch (t.kind) {
      case 'tcp':
        return this.tcp(side, ip, t, nowMs);
      case 'udp':
        return this.flow(side, ip, t, 1, t.sourcePort(), t.destinationPort(), nowMs);
      case 'icmpv4':
      case 'icmpv6':
        return this.icmp(side, ip, t, nowMs);
      case 'other':
        return this.drop('unsupported-protocol');
    }
  }

  // ================================================================== flows

  /** The session value (slot * 2 + leg) of a packet's flow key, or -1. */
  private lookup(side: NatSide, pi: number, ip: IpPacket, sport: number, dport: number): number {
    const tag = flowTag(side === 'inside' ? 0 : 1, pi);
    const ports = sport * 65536 + dport;
    if (ip.version === 4) return this.flows.get4(tag, ip.sourceAddress(), ip.destinationAddress(), ports);
    return this.flows.getText(`${tag}|${ip.sourceText()}|${ip.destinationText()}|${ports}`);
  }

  private legKey(leg: Leg, pi: number): { tag: number; a: number; b: number; ports: number; text: string | null } {
    const tag = flowTag(leg.from === 'inside' ? 0 : 1, pi);
    const ports = leg.sourceIn.port * 65536 + leg.destinationIn.port;
    if (leg.inFamily === 4) return { tag, a: leg.sourceInNumber, b: leg.destinationInNumber, ports, text: null };
    return { tag, a: 0, b: 0, ports, text: `${tag}|${leg.sourceIn.address}|${leg.destinationIn.address}|${ports}` };
  }

  private flowGet(k: ReturnType<PacketNat['legKey']>): number {
    return k.text === null ? this.flows.get4(k.tag, k.a, k.b, k.ports) : this.flows.getText(k.text);
  }
  private flowSet(k: ReturnType<PacketNat['legKey']>, value: number): void {
    if (k.text === null) this.flows.set4(k.tag, k.a, k.b, k.ports, value);
    else this.flows.setText(k.text, value);
  }
  private flowDelete(k: ReturnType<PacketNat['legKey']>): void {
    if (k.text === null) this.flows.delete4(k.tag, k.a, k.b, k.ports);
    else this.flows.deleteText(k.text);
  }

  /** UDP (and the common part of every flow): find or open the session, refresh, translate. */
  private flow(side: NatSide, ip: IpPacket, t: TransportView, pi: number, sport: number, dport: number, nowMs: number): PacketNatVerdict {
    const found = this.find(side, pi, ip, sport, dport, nowMs);
    if (found !== null) return this.translate(ip, t, found.leg);
    const created = this.open(side, pi, endpoint(ip.sourceText(), sport), endpoint(ip.destinationText(), dport), nowMs);
    if (typeof created === 'string') return this.drop(created);
    return this.translate(ip, t, created.a);
  }

  /** The live session of a packet (refreshed), or null; a session whose mapping died is closed. */
  private find(side: NatSide, pi: number, ip: IpPacket, sport: number, dport: number, nowMs: number): { s: NatSession; leg: Leg } | null {
    const v = this.lookup(side, pi, ip, sport, dport);
    if (v < 0) return null;
    const s = this.sessions[v >> 1]!;
    const leg = (v & 1) === 0 ? s.a : s.b;
    if (leg.refreshes) s.lastSeen = nowMs;
    if (s.mappingId >= 0 && nowMs >= s.checkAt && !this.checkMapping(s, leg, nowMs)) {
      this.close(s, 'mapping-expired');
      return null;
    }
    return { s, leg };
  }

  private checkMapping(s: NatSession, leg: Leg, nowMs: number): boolean {
    if (leg.refreshes) {
      const phase = s.state === null ? undefined : tcpPhase(s.state);
      if (!this.table.refresh(s.mappingId, nowMs, phase)) return false;
      s.checkAt = nowMs + REFRESH_MS;
      return true;
    }
    const m = this.table.get(s.mappingId);
    if (!m || (m.expiresAt !== null && m.expiresAt <= nowMs)) return false;
    s.checkAt = Math.min(nowMs + REFRESH_MS, m.expiresAt ?? Infinity);
    return true;
  }

  /** Open a session for the first packet of a flow, from `client` to `server` as received on `side`. */
  private open(side: NatSide, pi: number, client: Endpoint, server: Endpoint, nowMs: number): NatSession | NatDropReason {
    if (this.live >= this.maxSessions) return 'session-limit';
    const protocol = PROTOCOLS[pi]!;
    const inboundRefresh = this.policies[pi]!.inboundRefresh;
    let a: Leg;
    let b: Leg;
    let via: NatSession['via'];
    let mappingId = -1;
    let expectedBy: number | null = null;
    if (side === 'inside') {
      const tr = this.translator.outbound(protocol, client, server, nowMs);
      if (!tr.ok) return tr.reason;
      // Hairpinning: the destination was one of the NAT's own endpoints; both legs stay inside.
      const hairpin = tr.rule !== 'static' && this.pool.has(server.address) && tr.destination.address !== server.address;
      const far: NatSide = hairpin ? 'inside' : 'outside';
      a = new Leg('inside', client, server, far, tr.source, tr.destination, true);
      b = new Leg(far, tr.destination, tr.source, 'inside', server, client, hairpin || inboundRefresh);
      via = 'outbound';
      mappingId = tr.mapping?.id ?? -1;
    } else {
      const tr = this.translator.inbound(protocol, client, server, nowMs);
      if (!tr.ok) return tr.reason;
      a = new Leg('outside', client, server, 'inside', tr.source, tr.destination, inboundRefresh);
      b = new Leg('inside', tr.destination, tr.source, 'outside', server, client, true);
      via = tr.via ?? 'mapping';
      mappingId = tr.mapping?.id ?? -1;
      if (tr.expectation) expectedBy = typeof tr.expectation.owner === 'number' ? tr.expectation.owner : null;
    }
    const ka = this.legKey(a, pi);
    const kb = this.legKey(b, pi);
    if (this.flowGet(ka) >= 0 || this.flowGet(kb) >= 0) return 'flow-conflict';
    const slot = this.freeSlots.length > 0 ? this.freeSlots.pop()! : this.sessions.length;
    const s = new NatSession(this.nextId++, protocol, pi, a, b, mappingId, via, pi === 0 ? 'syn-sent' : null, nowMs, this.rows, slot);
    s.expectedBy = expectedBy;
    s.checkAt = nowMs + REFRESH_MS;
    this.sessions[slot] = s;
    this.live++;
    this.bySessionId.set(s.id, s);
    this.flowSet(ka, slot * 2);
    this.flowSet(kb, slot * 2 + 1);
    if (mappingId >= 0) {
      const list = this.byMapping.get(mappingId);
      if (list) list.push(s);
      else this.byMapping.set(mappingId, [s]);
    }
    if (pi === 0) this.attachAlg(s);
    this.events.push({
      type: 'session-created',
      session: s.id,
      protocol,
      from: side,
      client,
      server,
      clientTranslated: a.sourceOut,
      serverTranslated: a.destinationOut,
      via,
      alg: s.algName,
      expectedBy,
    });
    this.schedule(s, nowMs);
    return s;
  }

  /** The idle timeout of a session in its current state. */
  private timeoutOf(s: NatSession): number {
    const p = this.policies[s.protocolIndex]!;
    return s.state === null || s.state === 'established' ? p.establishedTimeoutMs : p.transitoryTimeoutMs;
  }

  /** Make sure the session's heap entry is no later than its next deadline. */
  private schedule(s: NatSession, nowMs: number): void {
    let d = s.lastSeen + this.timeoutOf(s);
    const t = s.alg?.pollTimeout() ?? null;
    if (t !== null && t < d) d = t;
    if (d < nowMs) d = nowMs;
    if (d < s.heapDeadline) {
      s.heapDeadline = d;
      this.heap.push(d, s.slot);
    }
  }

  private close(s: NatSession, reason: SessionCloseReason): void {
    if (this.sessions[s.slot] !== s) return;
    this.flowDelete(this.legKey(s.a, s.protocolIndex));
    this.flowDelete(this.legKey(s.b, s.protocolIndex));
    this.sessions[s.slot] = null;
    s.release();
    this.freeSlots.push(s.slot);
    this.live--;
    this.bySessionId.delete(s.id);
    if (s.mappingId >= 0) {
      const list = this.byMapping.get(s.mappingId);
      if (list) {
        const i = list.indexOf(s);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.byMapping.delete(s.mappingId);
      }
    }
    if (s.alg) this.table.cancelOwner(s.id);
    this.events.push({ type: 'session-closed', session: s.id, reason });
  }

  // ================================================================== TCP and ALGs

  private tcp(side: NatSide, ip: IpPacket, t: TcpSegment, nowMs: number): PacketNatVerdict {
    const event = tcpEventOf(t.flags());
    const found = this.find(side, 0, ip, t.sourcePort(), t.destinationPort(), nowMs);
    let s: NatSession;
    let leg: Leg;
    if (found === null) {
      if (event !== 'syn') return this.drop('tcp-no-session');
      const created = this.open(side, 0, endpoint(ip.sourceText(), t.sourcePort()), endpoint(ip.destinationText(), t.destinationPort()), nowMs);
      if (typeof created === 'string') return this.drop(created);
      s = created;
      leg = s.a;
    } else {
      s = found.s;
      leg = found.leg;
      const fromOpener = leg === s.a;
      const before = s.state!;
      const after = nextTcpState(before, event, fromOpener);
      if (isRestart(before, after)) this.attachAlg(s);
      s.state = after;
      if (after !== before && s.mappingId >= 0 && tcpPhase(after) !== tcpPhase(before)) {
        this.table.refresh(s.mappingId, nowMs, tcpPhase(after));
        s.checkAt = nowMs + REFRESH_MS;
      }
    }
    if (s.alg) {
      const res = s.alg.handleSegment(leg === s.a ? CLIENT_TO_SERVER : SERVER_TO_CLIENT, ip, t, nowMs);
      if (s.alg.closed) s.state = 'reset';
      this.schedule(s, nowMs);
      if (res === 'consumed') return CONSUMED;
      if (res !== 'forward') return this.drop(res);
    }
    if (event === 'syn' || event === 'syn-ack') this.clampMss(t, leg);
    return this.translate(ip, t, leg);
  }

  /** Keep a SYN's MSS within what the MTU allows on both sides of the leg. */
  private clampMss(t: TcpSegment, leg: Leg): void {
    const max = this.mtu - 20 - (leg.inFamily === 6 || leg.family === 6 ? 40 : 20);
    if (t.readOptions(this.tcpOptions).ok && this.tcpOptions.mss > max) t.setMss(this.tcpOptions, max);
  }

  /** Put an ALG on a new TCP session whose server port has one (or start it over on reuse). */
  private attachAlg(s: NatSession): void {
    if (s.alg) {
      this.table.cancelOwner(s.id);
      s.expectations.clear();
      s.alg = null;
    }
    const a = s.a;
    const binding = this.algs.get(a.destinationOut.port) ?? this.algs.get(a.destinationIn.port);
    if (!binding) return;
    const client = a.sourceIn;
    const server = a.destinationOut;
    const clientSide = a.from;
    const serverSide = a.to;
    // The NAT's own address in this connection, for an ALG that must know the gateway's (IRC:
    // offers naming it are refused, a passive offer from the client carries it instead of the
    // client's). Only for a client inside: the ALG's client is the party behind the gateway.
    const own = a.sourceOut.address;
    const context: AlgContext =
      clientSide === 'inside' && serverSide === 'outside'
        ? { client, server, gateway: { client: { local: own, announced: [] }, server: { local: own, announced: [] } } }
        : { client, server };
    const translator = binding.module.create(context, binding.options);
    const name = binding.module.name;
    const ctx = {
      table: this.table,
      translator: this.translator,
      clientSide,
      serverSide,
      insideAddress: clientSide === 'inside' ? client.address : server.address,
      oneToOne: this.oneToOne,
      owner: s.id,
    };
    const host: AlgConnectionHost = {
      planDataChannel: (request, now) => {
        this.makeRoom(s, binding.maxWaiting);
        const plan = planPacketDataChannel(request, ctx, now);
        if (plan.ok && plan.expectationId !== null) s.expectations.set(request.id, { expectation: plan.expectationId, committed: false });
        this.events.push({
          type: 'data-channel',
          session: s.id,
          request,
          announced: plan.ok ? plan.endpoint : null,
          expectation: plan.ok ? plan.expectationId : null,
          refused: plan.ok ? null : plan.reason,
        });
        return plan.ok ? { ok: true, endpoint: plan.endpoint } : { ok: false, reason: plan.reason };
      },
      releaseDataChannel: (id) => {
        const e = s.expectations.get(id);
        if (e !== undefined) {
          this.table.cancelExpectation(e.expectation);
          s.expectations.delete(id);
        }
      },
      event: (event) => {
        if (event.type === 'data-channel-committed') {
          const e = s.expectations.get(event.id);
          if (e) e.committed = true;
        }
        this.events.push({ type: 'alg', session: s.id, alg: name, event });
      },
      transmit: (to, packet) => this.send(to, packet),
    };
    s.alg = new AlgConnection(translator, { [CLIENT_TO_SERVER]: s.a, [SERVER_TO_CLIENT]: s.b } as Record<typeof CLIENT_TO_SERVER | typeof SERVER_TO_CLIENT, Leg>, host, this.algLimits);
    s.algName = name;
  }

  /**
   * Make room for one more waiting data channel under the ALG's limit, as the relay does: the
   * oldest pinholes of the session go first, those its ALG committed (the peer took the line up:
   * an FTP server accepted the PORT, a 227 went out) before those still in question. Spent and
   * expired pinholes are forgotten on the way. Protocol-neutral: an FTP session's unused PORTs
   * stop holding pinholes, and an IRC client's several open DCC offers all wait for their users.
   */
  private makeRoom(s: NatSession, max: number): void {
    for (const [id, e] of s.expectations) if (!this.table.hasExpectation(e.expectation)) s.expectations.delete(id);
    let excess = s.expectations.size - (max - 1);
    for (const committed of [true, false]) {
      for (const [id, e] of s.expectations) {
        if (excess <= 0) return;
        if (e.committed !== committed) continue;
        this.table.cancelExpectation(e.expectation);
        s.expectations.delete(id);
        excess--;
      }
    }
  }

  // ================================================================== ICMP

  private icmp(side: NatSide, ip: IpPacket, m: Icmpv4Message | Icmpv6Message, nowMs: number): PacketNatVerdict {
    const kind = m.messageKind();
    if (kind === 'echo-request' || kind === 'echo-reply') {
      const id = m.identifier();
      const request = kind === 'echo-request';
      const sport = request ? id : 0;
      const dport = request ? 0 : id;
      if (!request && this.lookup(side, 2, ip, sport, dport) < 0) return this.drop('icmp-no-session');
      return this.flow(side, ip, m, 2, sport, dport, nowMs);
    }
    if (!m.isError() || kind === 'other') return this.drop('icmp-unsupported');
    return this.icmpError(side, ip, m);
  }

  /** An ICMP error about a packet the NAT sent out on `side` (see icmp-error.ts). */
  private icmpError(side: NatSide, ip: IpPacket, m: Icmpv4Message | Icmpv6Message): PacketNatVerdict {
    const qv = m.quote(this.quote);
    if (!qv.ok) return this.drop(`icmp-quote-${qv.reason}`);
    const q = this.quote;
    let pi: number;
    let sport: number;
    let dport: number;
    if (q.protocol === IpProtocol.Tcp || q.protocol === IpProtocol.Udp) {
      if (!q.hasPorts()) return this.drop('icmp-no-session');
      pi = q.protocol === IpProtocol.Tcp ? 0 : 1;
      // The reply direction of the quoted packet: ports swapped.
      sport = q.destinationPort();
      dport = q.sourcePort();
    } else if (q.hasIcmpEcho()) {
      pi = 2;
      const t = q.bytes[q.transportOffset]!;
      const request = t === 8 || t === 128;
      sport = request ? 0 : q.icmpIdentifier();
      dport = request ? q.icmpIdentifier() : 0;
    } else return this.drop('icmp-no-session');
    const tag = flowTag(side === 'inside' ? 0 : 1, pi);
    const ports = sport * 65536 + dport;
    const v =
      q.version === 4
        ? this.flows.get4(tag, q.destinationAddress(), q.sourceAddress(), ports)
        : this.flows.getText(`${tag}|${q.destinationText()}|${q.sourceText()}|${ports}`);
    if (v < 0) return this.drop('icmp-no-session');
    const s = this.sessions[v >> 1]!;
    const rev = (v & 1) === 0 ? s.a : s.b;
    // An ALG shifted the quoted segment's sequence number: give it back in the sender's terms.
    let quotedSeq = -1;
    if (s.alg && pi === 0 && q.hasTcpSeqNumber()) {
      const d = s.alg.direction(rev === s.a ? SERVER_TO_CLIENT : CLIENT_TO_SERVER);
      if (d.isn !== null) {
        const o = d.rcvAck + seqDiff(q.tcpSeqNumber(), d.seqOf(d.rcvAck));
        quotedSeq = d.seqOf(d.shift.inCovered(Math.max(o, d.rcvAck)));
      }
    }
    const from = ip.sourceBytes();
    if (rev.inFamily === rev.family) {
      const outerSource = sameBytes(from, rev.sourceInBytes) ? rev.source : null;
      rewriteIcmpErrorInPlace(ip, m.start, q, rev, outerSource, quotedSeq);
      return forwardTo(rev.to);
    }
    const header = m.kind === 'icmpv4' ? icmpErrorType4to6(m, this.mtu) : icmpErrorType6to4(m);
    if (header === null) return this.drop('icmp-untranslatable');
    let outerSource: Uint8Array;
    if (rev.family === 4 || sameBytes(from, rev.sourceInBytes)) outerSource = rev.source;
    else {
      const view = this.translator.insideViewOf(ip.sourceText(), rev.destinationOut.address);
      if (view === null) return this.drop('non-global');
      const e = endpoint(view, 0);
      outerSource = rev.family === 6 && e.family === 6 ? bytesOfAddress(e.address) : rev.source;
    }
    this.send(rev.to, buildIcmpErrorAcross(ip, q, rev, header, outerSource, quotedSeq));
    return CONSUMED;
  }

  // ================================================================== translation

  /** Translate a packet along `leg`: in place within a family, into a new packet across. */
  private translate(ip: IpPacket, t: TransportView, leg: Leg): PacketNatVerdict {
    if (leg.inFamily === leg.family) {
      if (ip.version === 4) {
        if (t.kind === 'tcp' || t.kind === 'udp') applyLeg4(ip.bytes, ip.start, t.start, t.kind === 'udp', leg.rewrite4, 0);
        else {
          const request = t.kind === 'icmpv4' && t.messageKind() === 'echo-request';
          rewriteIpv4Endpoint(ip, t, 'source', number4(leg.source), request ? leg.sourcePort : undefined);
          rewriteIpv4Endpoint(ip, t, 'destination', number4(leg.destination), request ? undefined : leg.destinationPort);
        }
      } else {
        const icmp = t.kind === 'icmpv6';
        const request = icmp && t.messageKind() === 'echo-request';
        rewriteIpv6Endpoint(ip, t, 'source', leg.source, 0, icmp ? (request ? leg.sourcePort : undefined) : leg.sourcePort);
        rewriteIpv6Endpoint(ip, t, 'destination', leg.destination, 0, icmp ? (request ? undefined : leg.destinationPort) : leg.destinationPort);
      }
      return forwardTo(leg.to);
    }
    const out = translateAcrossFamilies(ip, t, leg, this.ident++ & 0xffff);
    if (typeof out === 'string') return this.drop(out);
    if (out.length > this.mtu && ip.version === 4 && ip.dontFragment()) {
      // IPv4 with DF grew past the MTU as IPv6: tell the sender (RFC 7915 section 4 / RFC 1191).
      this.send(leg.from, fragmentationNeeded(ip, this.mtu - 20));
      return this.drop('too-big');
    }
    this.send(leg.to, out);
    return CONSUMED;
  }

  /** Queue a packet of the NAT's, in fragments when it is too big and may be fragmented. */
  private send(to: NatSide, packet: Uint8Array): void {
    if (packet.length > this.mtu) {
      if (packet[0]! >> 4 === 4) {
        const v = new Ipv4Packet().check(packet);
        if (v.ok && !v.packet.dontFragment()) {
          for (const f of fragmentIpv4(v.packet, this.mtu)) this.transmits.push({ to, packet: f });
          return;
        }
      } else if (packet[6] !== IpProtocol.Ipv6Fragment) {
        for (const f of fragmentIpv6(packet, this.mtu, this.ident++)) this.transmits.push({ to, packet: f });
        return;
      }
    }
    this.transmits.push({ to, packet });
  }

  private drop(reason: NatDropReason): PacketNatVerdict {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    return dropVerdict(reason);
  }

  // ================================================================== output, time, events

  /** The next packet the NAT sends of its own, or null. */
  pollTransmit(): Transmit | null {
    return this.transmits.poll();
  }

  pollEvent(): PacketNatEvent | null {
    return this.events.poll();
  }

  /** Earliest time `handleTimeout` has work (it may be early: then it has none), or null. */
  pollTimeout(): number | null {
    const t = Math.min(
      this.heap.peekDeadline(),
      this.table.pollTimeout() ?? Infinity,
      this.reassemblers.inside.pollTimeout() ?? Infinity,
      this.reassemblers.outside.pollTimeout() ?? Infinity,
    );
    return t === Infinity ? null : t;
  }

  handleTimeout(nowMs: number): void {
    this.table.handleTimeout(nowMs);
    for (let e = this.table.pollEvent(); e !== null; e = this.table.pollEvent()) {
      if (e.type === 'mapping-expired') {
        for (const s of [...(this.byMapping.get(e.mapping.id) ?? [])]) this.close(s, 'mapping-expired');
      }
    }
    for (const r of [this.reassemblers.inside, this.reassemblers.outside]) {
      r.handleTimeout(nowMs);
      for (let e = r.pollEvent(); e !== null; e = r.pollEvent()) this.events.push({ type: 'reassembly-timeout', version: e.version });
    }
    while (this.heap.size > 0 && this.heap.peekDeadline() <= nowMs) {
      const deadline = this.heap.peekDeadline();
      const slot = this.heap.peekHandle();
      this.heap.pop();
      const s = this.sessions[slot];
      if (!s || s.heapDeadline !== deadline) continue;
      s.heapDeadline = Infinity;
      if (s.alg) {
        const t = s.alg.pollTimeout();
        if (t !== null && t <= nowMs) {
          s.alg.handleTimeout(nowMs);
          if (s.alg.closed) s.state = 'reset';
        }
      }
      if (s.lastSeen + this.timeoutOf(s) <= nowMs) {
        this.close(s, 'idle');
        continue;
      }
      // Its work due by now is done: anything it still reports as due waits for the next call
      // (one ms on), so that a timer that does not move cannot keep this loop going.
      this.schedule(s, nowMs + 1);
    }
  }

  /** The session with this id, for diagnostics and tests. */
  session(id: number): NatSession | null {
    return this.bySessionId.get(id) ?? null;
  }

  get sessionCount(): number {
    return this.live;
  }

  stats(): PacketNatStats {
    return {
      sessions: this.live,
      drops: { ...this.drops },
      forwarded: this.forwarded,
      consumed: this.consumed,
      transmitted: this.transmits.sent,
      droppedTransmits: this.transmits.dropped,
      droppedEvents: this.events.dropped,
    };
  }
}

const DROPS = new Map<string, PacketNatVerdict>();

/** One frozen verdict per reason, made on first use. */
function dropVerdict(reason: NatDropReason): PacketNatVerdict {
  let v = DROPS.get(reason);
  if (!v) {
    v = Object.freeze({ ok: false as const, reason });
    DROPS.set(reason, v);
  }
  return v;
}

/** ICMPv4 fragmentation needed (RFC 1191) from the packet's destination back to its source, quoting its header and 8 bytes. */
function fragmentationNeeded(ip: Ipv4Packet, mtu: number): Uint8Array {
  const quote = ip.bytes.subarray(ip.start, Math.min(ip.end, ip.payloadOffset + 8));
  const out = new Uint8Array(28 + quote.length);
  emitIpv4Header(out, 0, { totalLength: out.length, protocol: IpProtocol.Icmp, source: ip.destinationAddress(), destination: ip.sourceAddress() });
  out[20] = 3;
  out[21] = 4;
  out[26] = mtu >>> 8;
  out[27] = mtu & 0xff;
  out.set(quote, 28);
  const c = internetChecksum(out, 20, out.length);
  out[22] = c >>> 8;
  out[23] = c & 0xff;
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function number4(b: Uint8Array): number {
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

function bytesOfAddress(text: string): Uint8Array {
  return parseAddress(text)!.bytes;
}
