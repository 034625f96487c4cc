/**
 * `npm run demo`: an FTP server and the nat-alg relay on loopback, a client talking to the
 * server through the relay in every data-channel mode. For each mode it shows the control lines
 * as one side sent them and as the other side received them (the lines the relay rewrote are
 * shown twice), and checks that the bytes of a download and an upload arrived intact.
 * Exits 0 when every check passes, 1 otherwise.
 */

import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { formatEndpoint, type Endpoint } from '../src/core/index.js';
import { createFtpProxy, type DataOpenEvent, type FtpProxy } from '../src/node/index.js';
import { FtpTestClient, FtpTestServer, visible, type ControlLine, type TransferMode } from '../src/testing/index.js';

const DOWNLOAD = pseudoRandomBytes(1 << 20, 1);
const UPLOAD = pseudoRandomBytes(256 * 1024 + 17, 2);

interface Scenario {
  readonly title: string;
  readonly explain: string;
  readonly mode: TransferMode;
  /** Where the client reaches the relay. */
  readonly relay: 'v4' | 'v6';
}

const SCENARIOS: Scenario[] = [
  { title: 'PASV', mode: 'pasv', relay: 'v4', explain: 'the server names a data endpoint in its 227 reply; the relay puts its own there' },
  { title: 'EPSV', mode: 'epsv', relay: 'v4', explain: 'the 229 reply names only a port; the relay listens and names its own port' },
  { title: 'PORT', mode: 'port', relay: 'v4', explain: 'the client names its own endpoint; the server is told to connect to the relay instead' },
  { title: 'EPRT', mode: 'eprt', relay: 'v4', explain: 'as PORT, in the extended syntax (RFC 2428)' },
  { title: 'EPSV, IPv6 client -> IPv4 server', mode: 'epsv', relay: 'v6', explain: 'FTP64 (RFC 6384): the client speaks EPSV over IPv6, the IPv4 server is asked with PASV' },
  { title: 'EPRT, IPv6 client -> IPv4 server', mode: 'eprt', relay: 'v6', explain: 'FTP64: an IPv6 EPRT from the client reaches the IPv4 server as PORT' },
];

interface Outcome {
  readonly scenario: Scenario;
  readonly download: boolean;
  readonly upload: boolean;
  readonly rewritten: number;
  readonly error?: string;
}

async function main(): Promise<number> {
  const server = new FtpTestServer({ host: '127.0.0.1', files: { 'pub/download.bin': DOWNLOAD } });
  const upstream = await server.listen();
  const proxy = createFtpProxy({ upstream: { host: upstream.address, port: upstream.port } });
  const dataOpens: DataOpenEvent[] = [];
  proxy.on('data-open', (e) => dataOpens.push(e));
  const relay4 = await listen(proxy, '127.0.0.1');
  // A second relay on ::1 (same options) for the IPv6 client scenarios.
  const proxy6 = createFtpProxy({ upstream: { host: upstream.address, port: upstream.port } });
  proxy6.on('data-open', (e) => dataOpens.push(e));
  const relay6 = await listen(proxy6, '::1').catch(() => null);

  say('nat-alg demo: an FTP client and server on loopback, the nat-alg relay in between');
  say('');
  say(`  FTP server  ${formatEndpoint(upstream)}   (FtpTestServer from nat-alg/testing)`);
  say(`  relay       ${formatEndpoint(relay4)}${relay6 ? ` and ${formatEndpoint(relay6)}` : ''} -> ${formatEndpoint(upstream)}   (createFtpProxy from nat-alg/node)`);
  say(`  client      FtpTestClient; downloads ${DOWNLOAD.length} bytes, uploads ${UPLOAD.length} bytes per mode`);
  say('');
  say('  Control lines printed once arrived exactly as they were sent; the lines the relay');
  say('  rewrote are printed twice: as one side sent them and as the other side received them.');

  const outcomes: Outcome[] = [];
  for (const scenario of SCENARIOS) {
    const target = scenario.relay === 'v4' ? relay4 : relay6;
    say('');
    say(`== ${scenario.title} ${'='.repeat(Math.max(3, 74 - scenario.title.length))}`);
    say(`   ${scenario.explain}`);
    if (!target) {
      say('   skipped: IPv6 loopback (::1) is not available on this machine');
      continue;
    }
    outcomes.push(await runScenario(scenario, target, server, dataOpens));
  }

  say('');
  say('== What the relay refuses ' + '='.repeat(52));
  say('   a client naming another host (FTP bounce) or a privileged port is answered by the relay;');
  say('   the command never reaches the server');
  const refusals = await runRefusals(relay4, server);

  await Promise.all([proxy.shutdown({ graceMs: 1000 }), proxy6.shutdown({ graceMs: 1000 })]);
  await server.close();

  say('');
  say('== Summary ' + '='.repeat(67));
  say(`   ${'mode'.padEnd(36)}${'download'.padEnd(11)}${'upload'.padEnd(11)}lines rewritten`);
  for (const o of outcomes) {
    const mark = (ok: boolean) => (ok ? 'ok' : 'MISMATCH').padEnd(11);
    say(`   ${o.scenario.title.padEnd(36)}${mark(o.download)}${mark(o.upload)}${o.rewritten}${o.error ? `   error: ${o.error}` : ''}`);
  }
  say(`   ${'bounce and low-port commands'.padEnd(36)}${refusals ? 'refused by the relay, never seen by the server' : 'NOT REFUSED'}`);
  const failed = outcomes.filter((o) => !o.download || !o.upload).length;
  say('');
  say(failed === 0 ? `All ${outcomes.length} transfers in both directions arrived byte for byte.` : `${failed} of ${outcomes.length} scenarios FAILED.`);
  return failed === 0 && outcomes.length > 0 && refusals ? 0 : 1;
}

async function runScenario(scenario: Scenario, relay: Endpoint, server: FtpTestServer, dataOpens: DataOpenEvent[]): Promise<Outcome> {
  const firstSession = server.sessions.length;
  const firstData = dataOpens.length;
  const uploadPath = `incoming/${scenario.mode}-${scenario.relay}.bin`;
  let download = false;
  let upload = false;
  let error: string | undefined;
  let client: FtpTestClient | null = null;
  try {
    client = await FtpTestClient.connect(relay, { mode: scenario.mode, timeoutMs: 10_000 });
    await client.login('demo', 'demo@example.com');
    await client.command('TYPE I');
    const got = await client.retrieve('pub/download.bin');
    download = equalBytes(got, DOWNLOAD);
    await client.store(uploadPath, UPLOAD);
    upload = equalBytes(server.files.get(`/${uploadPath}`) ?? new Uint8Array(0), UPLOAD);
    await client.quit();
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
    client?.close();
  }
  await waitUntil(() => server.sessions.length <= firstSession || server.sessions.slice(firstSession).every((s) => s.isClosed));
  const serverLines = server.sessions.slice(firstSession).flatMap((s) => s.transcript);
  const clientLines = client?.transcript ?? [];

  say('');
  say('   commands: as the client sent them  ->  as the server received them');
  const rewrittenCommands = showPair(lines(clientLines, 'client'), lines(serverLines, 'client'), 'client sent', 'server got ');
  say('');
  say('   replies:  as the server sent them  ->  as the client received them');
  const rewrittenReplies = showPair(lines(serverLines, 'server'), lines(clientLines, 'server'), 'server sent', 'client got ');
  say('');
  for (const d of dataOpens.slice(firstData)) {
    const [from, to] = d.mode === 'passive' ? ['client', 'server'] : ['server', 'client'];
    say(`   data (${d.command}): ${from} ${formatEndpoint(d.peer)} connected to the relay, relay connected to ${to} ${formatEndpoint(d.target)}`);
  }
  say(`   download: ${check(download, DOWNLOAD)}`);
  say(`   upload:   ${check(upload, UPLOAD)}`);
  if (error) say(`   error:    ${error}`);
  return { scenario, download, upload, rewritten: rewrittenCommands + rewrittenReplies, ...(error ? { error } : {}) };
}

/** Hostile data commands: each must be answered with an error and must not reach the server. */
async function runRefusals(relay: Endpoint, server: FtpTestServer): Promise<boolean> {
  const hostile = ['PORT 192,0,2,1,0,25', 'EPRT |1|192.0.2.1|25|', 'PORT 127,0,0,1,0,22'];
  const firstSession = server.sessions.length;
  let ok = true;
  say('');
  try {
    const client = await FtpTestClient.connect(relay, { timeoutMs: 10_000 });
    await client.login('demo', 'demo@example.com');
    for (const line of hostile) {
      const r = await client.command(line);
      const refused = r.code >= 400;
      ok &&= refused;
      say(`     client sent  ${line}`);
      say(`     relay said   ${r.lines.map(visible).join(' / ')}${refused ? '' : '   <- NOT REFUSED'}`);
    }
    await client.quit();
  } catch (e) {
    say(`     error: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
  await waitUntil(() => server.sessions.slice(firstSession).every((s) => s.isClosed));
  const seen = server.sessions.slice(firstSession).flatMap((s) => lines(s.transcript, 'client'));
  const leaked = seen.filter((l) => /^(PORT|EPRT)/i.test(l));
  say(`     server got   ${seen.map(visible).join(', ')}${leaked.length ? '   <- the hostile commands got through' : ''}`);
  return ok && leaked.length === 0;
}

function lines(transcript: readonly ControlLine[], source: 'client' | 'server'): string[] {
  return transcript.filter((l) => l.source === source).map((l) => l.text);
}

/**
 * Print what one side sent against what the other received: lines that arrived as sent are
 * printed once, lines the relay changed are printed as the pair. Lines are matched with a
 * longest-common-subsequence alignment so that a line the relay added or answered itself shows
 * up on its own. Returns the number of lines that differ.
 */
function showPair(sent: string[], received: string[], sentLabel: string, receivedLabel: string): number {
  const n = sent.length;
  const m = received.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = sent[i] === received[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  let changed = 0;
  const gone: string[] = [];
  const added: string[] = [];
  const flush = () => {
    for (const s of gone) say(`     ${sentLabel}  ${visible(s)}`);
    for (const r of added) say(`     ${receivedLabel}  ${visible(r)}   <- rewritten by the relay`);
    changed += Math.max(gone.length, added.length);
    gone.length = 0;
    added.length = 0;
  };
  while (i < n || j < m) {
    if (i < n && j < m && sent[i] === received[j]) {
      flush();
      say(`                  ${visible(sent[i]!)}`);
      i++;
      j++;
    } else if (j >= m || (i < n && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      gone.push(sent[i++]!);
    } else {
      added.push(received[j++]!);
    }
  }
  flush();
  return changed;
}

function check(ok: boolean, bytes: Uint8Array): string {
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  return ok ? `${bytes.length} bytes, sha256 ${digest}..., identical` : `MISMATCH (expected ${bytes.length} bytes, sha256 ${digest}...)`;
}

function listen(proxy: FtpProxy, host: string): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen({ port: 0, host }, () => {
      proxy.off('error', reject);
      const a = proxy.address() as AddressInfo;
      resolve({ family: a.family === 'IPv6' ? 6 : 4, address: a.address, port: a.port });
    });
  });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Deterministic test data (xorshift32), so that every run moves the same bytes. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
