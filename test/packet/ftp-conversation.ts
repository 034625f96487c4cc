/**
 * A random FTP conversation between a simulated client inside and a simulated server outside,
 * through a PacketNat with the FTP ALG (tcp-sim.ts), and the reference: the FTP translator fed
 * the same application writes whole, with the data-channel answers the NAT gave.
 */
import { expect } from 'vitest';
import { ftpAlg } from '../../src/core/ftp/module.js';
import type { PacketNat, PacketNatEvent, PacketNatOptions } from '../../src/core/packet/index.js';
import type { Direction } from '../../src/core/stream/translator.js';
import { INSIDE_CLIENT, SERVER, dec, decode, enc, makeNat, seeded } from './nat-helpers.js';
import { TcpSim } from './tcp-sim.js';

function finalReplies(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (/^[0-9]{3} /.test(line)) n++;
  // The last piece has no LF yet: count only complete lines.
  const last = text.slice(text.lastIndexOf('\n') + 1);
  if (/^[0-9]{3} /.test(last)) n--;
  return n;
}

function completeLines(text: string): string[] {
  const parts = text.split('\n');
  parts.pop();
  return parts.map((l) => l.replace(/\r$/, ''));
}

interface Write {
  readonly dir: Direction;
  readonly bytes: Uint8Array;
}

function commandsFor(rnd: () => number, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rnd() * 9);
    const port = 1024 + Math.floor(rnd() * 60000);
    switch (k) {
      case 0:
        out.push('USER anonymous');
        break;
      case 1:
        out.push('PASV');
        break;
      case 2:
        out.push('EPSV');
        break;
      case 3:
        out.push(`PORT 192,0,2,10,${port >> 8},${port & 255}`);
        break;
      case 4:
        out.push(`EPRT |1|192.0.2.10|${port}|`);
        break;
      case 5:
        out.push('NOOP');
        break;
      case 6:
        out.push('PORT 6,6,6,6,0,21');
        break;
      case 7:
        out.push('NOOP ' + 'x'.repeat(Math.floor(rnd() * 400)));
        break;
      default:
        out.push('SYST');
    }
  }
  return out;
}

function replyTo(line: string, rnd: () => number): string {
  const verb = line.split(' ')[0]!.toUpperCase();
  const port = 1024 + Math.floor(rnd() * 60000);
  const eol = rnd() < 0.2 ? '\n' : '\r\n';
  switch (verb) {
    case 'PASV':
      return `227 Entering Passive Mode (198,51,100,7,${port >> 8},${port & 255}).${eol}`;
    case 'EPSV':
      return `229 Entering Extended Passive Mode (|||${port}|)${eol}`;
    case 'PORT':
    case 'EPRT':
      return `200 PORT command successful.${eol}`;
    case 'USER':
      return `230-Welcome${eol}230-second line${eol}230 Logged in.${eol}`;
    case 'SYST':
      return `215 UNIX Type: L8${eol}`;
    case 'NOOP':
      return `200 NOOP ok.${eol}`;
    default:
      return `500 Unknown command.${eol}`;
  }
}

interface Outcome {
  finished: boolean;
  serverGot: string;
  clientGot: string;
  expectedC2S: string;
  expectedS2C: string;
  badAcks: string[];
  badPackets: string[];
}

export function conversation(seed: number, loss: number, maxDelay: number, clientSeg: number, serverSeg: number, nCommands: number, natOptions: Partial<PacketNatOptions> = {}): Outcome & { nat: PacketNat } {
  const rnd = seeded(seed);
  const nat = makeNat({ algRetransmitMs: 300, ...natOptions });
  const badPackets: string[] = [];
  const sim = new TcpSim(
    nat,
    { address: INSIDE_CLIENT, port: 40000, isn: Math.floor(rnd() * 0xffffffff), maxSegment: clientSeg },
    { address: SERVER, port: 21, isn: Math.floor(rnd() * 0xffffffff), maxSegment: serverSeg },
    {
      faults: { loss, duplicate: loss / 2, minDelay: 1, maxDelay },
      rnd,
      clientMaxSegment: clientSeg,
      serverMaxSegment: serverSeg,
      onNatPacket: (to, p) => {
        const d = decode(p);
        if (!d.headerOk || !d.transportOk) badPackets.push(`${to} ${d.src}->${d.dst} checksum`);
        if (p.length > 1500) badPackets.push(`${to} ${p.length} bytes`);
      },
    },
  );
  const commands = commandsFor(rnd, nCommands);
  const writes: Write[] = [];
  let sent = 0;
  let greeted = false;
  let served = 0;
  let clientClosed = false;
  let serverClosed = false;
  sim.sendFromClient([sim.client.connect(SERVER, 21, 0)]);
  const app = (): void => {
    if (sim.server.established && !greeted) {
      greeted = true;
      const g = enc('220 Service ready.\r\n');
      writes.push({ dir: 'server-to-client', bytes: g });
      sim.server.write(g);
    }
    const lines = completeLines(dec(sim.server.receivedBytes));
    while (served < lines.length) {
      const r = enc(replyTo(lines[served]!, rnd));
      served++;
      writes.push({ dir: 'server-to-client', bytes: r });
      sim.server.write(r);
    }
    const finals = finalReplies(dec(sim.client.receivedBytes));
    if (finals === sent + 1 && sent < commands.length) {
      const eol = rnd() < 0.2 ? '\n' : '\r\n';
      const c = enc(commands[sent]! + eol);
      sent++;
      writes.push({ dir: 'client-to-server', bytes: c });
      sim.client.write(c);
    }
    if (finals === commands.length + 1 && !clientClosed) {
      clientClosed = true;
      sim.client.close();
    }
    if (sim.server.peerFin && !serverClosed) {
      serverClosed = true;
      sim.server.close();
    }
  };
  const finished = sim.run(app, () => sim.client.finAcked && sim.server.finAcked && sim.client.peerFin && sim.server.peerFin, 20 * 60_000);
  // The reference: the FTP translator fed the same writes whole, answered as the NAT answered.
  const answers: PacketNatEvent[] = [];
  for (let e = nat.pollEvent(); e; e = nat.pollEvent()) if (e.type === 'data-channel') answers.push(e);
  const ref = ftpAlg.create({ client: { family: 4, address: INSIDE_CLIENT, port: 40000 }, server: { family: 4, address: SERVER, port: 21 } }, undefined);
  const out: Record<Direction, number[]> = { 'client-to-server': [], 'server-to-client': [] };
  const collect = () => {
    for (const d of ['client-to-server', 'server-to-client'] as const) for (let c = ref.pollOutput(d); c; c = ref.pollOutput(d)) out[d].push(...c);
  };
  let ai = 0;
  for (const w of writes) {
    let rest = w.bytes;
    for (let guard = 0; rest.length > 0 && guard < 100; guard++) {
      const n = ref.handleData(w.dir, rest, 0);
      rest = rest.subarray(n);
      for (let e = ref.pollEvent(); e; e = ref.pollEvent()) {
        if (e.type !== 'data-channel-request') continue;
        const a = answers[ai++];
        if (a && a.type === 'data-channel' && a.announced) ref.resolveDataChannel(e.request.id, a.announced);
        else ref.refuseDataChannel(e.request.id, a && a.type === 'data-channel' ? (a.refused ?? 'refused') : 'refused');
      }
      collect();
    }
  }
  collect();
  return {
    finished,
    serverGot: dec(sim.server.receivedBytes),
    clientGot: dec(sim.client.receivedBytes),
    expectedC2S: dec(Uint8Array.from(out['client-to-server'])),
    expectedS2C: dec(Uint8Array.from(out['server-to-client'])),
    badAcks: [...sim.client.badAcks, ...sim.server.badAcks],
    badPackets,
    nat,
  };
}

