// A scripted IRC client for the lab (test/interop/irc-client.ts starts it, usually inside a
// network namespace). It registers, answers PING, and plays one DCC SEND role, then quits:
//
//   send     offer --file to --peer and serve it. Normal: listen, offer our address and port.
//            Passive (--passive): offer port 0 and a token, wait for the receiver's answer (its
//            address and port, same token) and connect to it.
//   receive  wait for a DCC SEND offer and fetch it. Normal: connect to the offered address and
//            port. Passive offer (port 0 and a token): listen, answer with our address and port
//            and the token, accept the sender's connection.
//   idle     register, send each --send-hex (raw bytes, after --peer is online when given) and
//            with --send-endless N a PRIVMSG of N more bytes that never ends,
//            report every PRIVMSG and NOTICE received, and quit after --linger-ms or as soon as a
//            PRIVMSG with the text --quit-on arrives.
//   chat-offer   offer a DCC CHAT to --peer, accept its connection, send "hello from NICK",
//            read one line back. chat-accept: wait for a DCC CHAT offer, connect, read a line,
//            answer "hello from NICK".
//
// Resume (--resume-from N, receive role): answer a normal offer with DCC RESUME at position N,
// wait for the sender's DCC ACCEPT, then fetch the rest (acknowledging N + bytes received). The
// sender answers a RESUME naming its offer's port with ACCEPT and serves from that position.
// --bytewise writes every line the client sends one byte per write (TCP_NODELAY), so that an
// offer reaches the relay in as many segments as it has bytes. NOTICEs from a server-like prefix
// (no '!') are reported as {"event":"notice"} in every role.
//
// The receiver acknowledges as DCC SEND receivers do: after every chunk, the total received so
// far as a 4-byte big-endian number (modulo 2^32). The sender closes after the final one.
// Every step is reported as one JSON object per line on stdout ({"event": ...}); failures as
// {"event":"error","stage":...,"message":...} with exit code 1. Self-contained on purpose: an
// independent peer, not the project's own parsers.

import { createHash, randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, isIPv6 } from 'node:net';

const USAGE = `usage: irc-client.mjs --host H --port P --nick N [--role send|receive|idle] [--peer NICK]
  [--file PATH] [--name NAME] [--passive] [--address-form integer|ipv4-text|ipv6] [--advertise ADDR]
  [--advertise-port N] [--dcc-listen ADDR] [--out PATH] [--timeout-ms N] [--connect-timeout-ms N] [--linger-ms N]
  [--send-hex HEX]... [--quit-on TEXT] [--resume-from N] [--bytewise] [--send-endless N]`;

function parseArgs(argv) {
  const o = { role: 'idle', timeoutMs: 30000, connectTimeoutMs: 5000, lingerMs: 0, passive: false, sendHex: [], resumeFrom: 0, bytewise: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) fail('args', `${a} needs a value\n${USAGE}`);
      return argv[++i];
    };
    switch (a) {
      case '--host': o.host = v(); break;
      case '--port': o.port = Number(v()); break;
      case '--nick': o.nick = v(); break;
      case '--role': o.role = v(); break;
      case '--peer': o.peer = v(); break;
      case '--file': o.file = v(); break;
      case '--name': o.name = v(); break;
      case '--passive': o.passive = true; break;
      case '--address-form': o.addressForm = v(); break;
      case '--advertise': o.advertise = v(); break;
      case '--advertise-port': o.advertisePort = Number(v()); break;
      case '--dcc-listen': o.dccListen = v(); break;
      case '--out': o.out = v(); break;
      case '--timeout-ms': o.timeoutMs = Number(v()); break;
      case '--connect-timeout-ms': o.connectTimeoutMs = Number(v()); break;
      case '--linger-ms': o.lingerMs = Number(v()); break;
      case '--send-hex': o.sendHex.push(v()); break;
      case '--quit-on': o.quitOn = v(); break;
      case '--resume-from': o.resumeFrom = Number(v()); break;
      case '--bytewise': o.bytewise = true; break;
      case '--send-endless': o.sendEndless = Number(v()); break;
      default: fail('args', `unknown argument ${a}\n${USAGE}`);
    }
  }
  if (!o.host || !Number.isInteger(o.port) || !o.nick) fail('args', USAGE);
  if (!['send', 'receive', 'idle', 'chat-offer', 'chat-accept'].includes(o.role)) fail('args', `unknown role ${o.role}`);
  if (o.role === 'send' && (!o.peer || !o.file)) fail('args', 'send needs --peer and --file');
  if (o.role === 'chat-offer' && !o.peer) fail('args', 'chat-offer needs --peer');
  return o;
}

const started = Date.now();
function report(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields, ms: Date.now() - started }) + '\n');
}

function fail(stage, message) {
  report('error', { stage, message: String(message) });
  process.exit(1);
}

const opts = parseArgs(process.argv.slice(2));
setTimeout(() => fail('timeout', `no result after ${opts.timeoutMs} ms`), opts.timeoutMs).unref();

// --- addresses in DCC offers -------------------------------------------------------------------

function ipv4ToInteger(a) {
  return String(a.split('.').reduce((n, part) => n * 256 + Number(part), 0));
}

function integerToIpv4(text) {
  const n = Number(text);
  return [Math.floor(n / 16777216) % 256, Math.floor(n / 65536) % 256, Math.floor(n / 256) % 256, n % 256].join('.');
}

/** An address written as the offer writes it: IPv4 as an integer or dotted, IPv6 as text. */
function offerAddress(address, form) {
  const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  if (isIPv6(plain)) return plain;
  return (form ?? 'integer') === 'ipv4-text' ? plain : ipv4ToInteger(plain);
}

/** The address and its form from an offer's token. */
function readOfferAddress(text) {
  if (text.includes(':')) return { address: text, form: 'ipv6' };
  if (text.includes('.')) return { address: text, form: 'ipv4-text' };
  return { address: integerToIpv4(text), form: 'integer' };
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

// --- the IRC connection --------------------------------------------------------------------------

let irc;
let registered = false;
const lineHandlers = [];

/** Writes queued one byte at a time (--bytewise), kept in order with whole writes. */
let bytewiseQueue = Promise.resolve();

function writeRaw(bytes) {
  if (!opts.bytewise) {
    irc.write(bytes);
    return;
  }
  const buf = Buffer.from(bytes);
  bytewiseQueue = bytewiseQueue.then(async () => {
    for (let i = 0; i < buf.length; i++) {
      irc.write(buf.subarray(i, i + 1));
      await new Promise((r) => setTimeout(r, 2));
    }
  });
}

function send(line) {
  writeRaw(Buffer.from(line + '\r\n', 'latin1'));
}

function onLine(handler) {
  lineHandlers.push(handler);
}

/** `:prefix COMMAND params... :trailing` into its parts (tags skipped). */
function parseLine(line) {
  let rest = line;
  if (rest.startsWith('@')) rest = rest.slice(rest.indexOf(' ') + 1);
  let prefix = null;
  if (rest.startsWith(':')) {
    const sp = rest.indexOf(' ');
    prefix = rest.slice(1, sp);
    rest = rest.slice(sp + 1);
  }
  const colon = rest.indexOf(' :');
  const trailing = colon >= 0 ? rest.slice(colon + 2) : null;
  const words = (colon >= 0 ? rest.slice(0, colon) : rest).split(' ').filter((w) => w !== '');
  const command = (words.shift() ?? '').toUpperCase();
  const params = trailing !== null ? [...words, trailing] : words;
  return { prefix, command, params };
}

function connectIrc() {
  return new Promise((resolve) => {
    irc = connect({ host: opts.host, port: opts.port });
    const timer = setTimeout(() => {
      irc.destroy();
      fail('connect', `no connection to ${opts.host} port ${opts.port} after ${opts.connectTimeoutMs} ms`);
    }, opts.connectTimeoutMs);
    irc.once('error', (err) => {
      clearTimeout(timer);
      fail(registered ? 'irc' : 'connect', err.message);
    });
    irc.once('connect', () => {
      clearTimeout(timer);
      irc.setNoDelay(true);
      report('connected', { local: irc.localAddress, remote: irc.remoteAddress });
      send(`NICK ${opts.nick}`);
      send(`USER ${opts.nick} 0 * :nat-alg lab client`);
    });
    let buf = '';
    irc.setEncoding('latin1');
    irc.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        const msg = parseLine(line);
        if (msg.command === 'PING') send(`PONG :${msg.params[0] ?? ''}`);
        if (msg.command === '001' && !registered) {
          registered = true;
          report('registered', { nick: opts.nick, server: msg.prefix });
          resolve();
        }
        if (msg.command === '433') fail('register', `nickname ${opts.nick} is in use`);
        if (msg.command === 'NOTICE' && msg.prefix !== null && !msg.prefix.includes('!') && registered) {
          report('notice', { from: msg.prefix, text: msg.params[msg.params.length - 1] ?? '', line });
        }
        // After our QUIT the server says ERROR and closes: that is the goodbye, not a failure.
        if (msg.command === 'ERROR' && !quitting) fail('irc', `server said ${line}`);
        for (const h of [...lineHandlers]) h(msg, line);
      }
    });
    irc.on('close', () => {
      if (!quitting) fail('irc', 'the server closed the connection');
    });
  });
}

let quitting = false;
function quit(code = 0) {
  quitting = true;
  report('done');
  irc.end('QUIT :done\r\n');
  // The server answers QUIT with ERROR and closes, after every line sent before it (ngircd may
  // take seconds over lines it penalises); exit on the close, or after a while regardless.
  setTimeout(() => process.exit(code), 5000).unref();
  irc.once('close', () => process.exit(code));
}

/**
 * Resolves once `nick` is on the server. ISON once a second: ngircd throttles a client that
 * floods it, and the offer then waits behind the queued ISONs (one every 100 ms held it back by
 * about 4 s here).
 */
function waitForNick(nick) {
  return new Promise((resolve) => {
    const timer = setInterval(() => send(`ISON ${nick}`), 1000);
    send(`ISON ${nick}`);
    onLine((msg) => {
      if (msg.command === '303' && (msg.params[1] ?? '').split(' ').some((n) => n.toLowerCase() === nick.toLowerCase())) {
        clearInterval(timer);
        resolve();
      }
    });
  });
}

/** The next CTCP DCC SEND addressed to us (optionally from `from` and with `token`). */
function waitForOffer(filter = () => true) {
  return new Promise((resolve) => {
    onLine((msg, line) => {
      if (msg.command !== 'PRIVMSG' || msg.params.length < 2) return;
      const text = msg.params[msg.params.length - 1];
      const m = /\x01DCC SEND (?:"([^"\x01]+)"|([^ \x01]+)) ([^ \x01]+) (\d+)(?: (\d+))?(?: ([^ \x01]+))?(?:\x01|$)/i.exec(text);
      if (!m) return;
      const { address, form } = readOfferAddress(m[3]);
      const offer = {
        from: msg.prefix,
        line,
        filename: m[1] ?? m[2],
        addressText: m[3],
        address,
        addressForm: form,
        port: Number(m[4]),
        size: m[5] !== undefined ? Number(m[5]) : null,
        token: m[6] ?? null,
      };
      if (filter(offer)) resolve(offer);
    });
  });
}

// --- DCC data connections ------------------------------------------------------------------------

/** Serve `data` from `start` on a connected socket: write it, then wait for the final acknowledgement. */
function serveFile(sock, data, start = 0) {
  return new Promise((resolve) => {
    const finalAck = data.length % 2 ** 32;
    let pending = Buffer.alloc(0);
    let acks = 0;
    let lastAck = -1;
    sock.on('data', (d) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 4) {
        lastAck = pending.readUInt32BE(0);
        pending = pending.subarray(4);
        acks++;
      }
      if (lastAck === finalAck) {
        sock.end();
        resolve({ acks, lastAck });
      }
    });
    sock.on('error', (err) => fail('dcc', err.message));
    sock.on('close', () => {
      if (lastAck !== finalAck) fail('dcc', `the receiver closed after acknowledging ${lastAck} of ${data.length} bytes`);
    });
    sock.write(data.subarray(start));
    if (data.length === start) resolve({ acks, lastAck });
  });
}

/** Read bytes `start` to `size` from a connected socket, acknowledging every chunk (as positions in the file). */
function receiveFile(sock, size, start = 0) {
  return new Promise((resolve) => {
    const chunks = [];
    let got = start;
    let acks = 0;
    let finished = false;
    sock.on('data', (d) => {
      if (finished) return; // bytes past the size: not ours to acknowledge
      chunks.push(d);
      got += d.length;
      const ack = Buffer.alloc(4);
      ack.writeUInt32BE(got % 2 ** 32);
      acks++;
      if (got >= size) {
        finished = true;
        // Resolve once the final acknowledgement is handed to the kernel, not before.
        sock.end(ack, () => resolve({ data: Buffer.concat(chunks), acks }));
      } else {
        sock.write(ack);
      }
    });
    sock.on('error', (err) => fail('dcc', err.message));
    sock.on('close', () => {
      if (got < size) fail('dcc', `the sender closed after ${got} of ${size} bytes`);
    });
    if (start >= size) resolve({ data: Buffer.alloc(0), acks });
  });
}

function listenOnce(host) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err) => fail('dcc-listen', err.message));
    server.listen({ host, port: 0 }, () => resolve(server));
  });
}

function accepted(server) {
  return new Promise((resolve) => {
    server.once('connection', (sock) => {
      server.close();
      report('dcc-connected', { local: `${sock.localAddress}:${sock.localPort}`, remote: `${sock.remoteAddress}:${sock.remotePort}`, accepted: true });
      resolve(sock);
    });
  });
}

function dial(address, port) {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    const timer = setTimeout(() => fail('dcc-connect', `no connection to ${address} port ${port} after ${opts.connectTimeoutMs} ms`), opts.connectTimeoutMs);
    sock.once('error', (err) => fail('dcc-connect', `${address} port ${port}: ${err.message}`));
    sock.once('connect', () => {
      clearTimeout(timer);
      report('dcc-connected', { local: `${sock.localAddress}:${sock.localPort}`, remote: `${sock.remoteAddress}:${sock.remotePort}`, accepted: false });
      resolve(sock);
    });
  });
}

// --- roles ---------------------------------------------------------------------------------------

function quoteName(name) {
  return name.includes(' ') ? `"${name}"` : name;
}

async function runSend() {
  const data = readFileSync(opts.file);
  let start = 0;
  const name = opts.name ?? opts.file.split('/').pop();
  const listenHost = opts.dccListen ?? irc.localAddress;
  const advertised = opts.advertise ?? listenHost;
  await waitForNick(opts.peer);
  let sock;
  if (!opts.passive) {
    const server = await listenOnce(listenHost);
    const port = opts.advertisePort ?? server.address().port;
    const body = `DCC SEND ${quoteName(name)} ${offerAddress(advertised, opts.addressForm)} ${port} ${data.length}`;
    onLine((msg) => {
      if (msg.command !== 'PRIVMSG') return;
      const m = /\x01DCC RESUME (?:"([^"\x01]+)"|([^ \x01]+)) (\d+) (\d+)/i.exec(msg.params[msg.params.length - 1] ?? '');
      if (!m) return;
      const resume = { filename: m[1] ?? m[2], port: Number(m[3]), position: Number(m[4]) };
      report('resume-received', resume);
      if (resume.port !== port) return; // not our offer (as we named it)
      start = resume.position;
      send(`PRIVMSG ${msg.prefix.split('!')[0]} :\x01DCC ACCEPT ${quoteName(resume.filename)} ${port} ${start}\x01`);
      report('accept-sent', { port, position: start });
    });
    send(`PRIVMSG ${opts.peer} :\x01${body}\x01`);
    report('offer-sent', { body, address: advertised, port, size: data.length, passive: false, listening: `${listenHost}:${server.address().port}` });
    sock = await accepted(server);
  } else {
    const token = String(randomInt(1, 2 ** 31));
    const answered = waitForOffer((o) => o.token === token && o.port !== 0);
    const body = `DCC SEND ${quoteName(name)} ${offerAddress(advertised, opts.addressForm)} 0 ${data.length} ${token}`;
    send(`PRIVMSG ${opts.peer} :\x01${body}\x01`);
    report('offer-sent', { body, address: advertised, port: 0, size: data.length, token, passive: true });
    const answer = await answered;
    report('answer-received', answer);
    sock = await dial(answer.address, answer.port);
  }
  const { acks, lastAck } = await serveFile(sock, data, start);
  report('transfer-done', { role: 'sender', bytes: data.length - start, start, sha256: sha256(data.subarray(start)), acks, lastAck });
  quit();
}

async function runReceive() {
  const offer = await waitForOffer((o) => !opts.peer || (o.from ?? '').toLowerCase().startsWith(`${opts.peer.toLowerCase()}!`));
  report('offer-received', offer);
  if (offer.size === null) fail('offer', 'the offer has no size');
  let sock;
  let resumeAt = 0;
  if (offer.port === 0) {
    if (offer.token === null) fail('offer', 'port 0 without a token');
    const listenHost = opts.dccListen ?? irc.localAddress;
    const server = await listenOnce(listenHost);
    const port = opts.advertisePort ?? server.address().port;
    const advertised = opts.advertise ?? listenHost;
    const body = `DCC SEND ${quoteName(offer.filename)} ${offerAddress(advertised, opts.addressForm)} ${port} ${offer.size} ${offer.token}`;
    const sender = (offer.from ?? '').split('!')[0];
    send(`PRIVMSG ${sender} :\x01${body}\x01`);
    report('answer-sent', { body, address: advertised, port, token: offer.token, listening: `${listenHost}:${server.address().port}` });
    sock = await accepted(server);
  } else {
    if (opts.resumeFrom > 0) {
      const sender = (offer.from ?? '').split('!')[0];
      const accepted = new Promise((resolve) => {
        onLine((msg) => {
          if (msg.command !== 'PRIVMSG') return;
          const m = /\x01DCC ACCEPT (?:"([^"\x01]+)"|([^ \x01]+)) (\d+) (\d+)/i.exec(msg.params[msg.params.length - 1] ?? '');
          if (m) resolve({ filename: m[1] ?? m[2], port: Number(m[3]), position: Number(m[4]) });
        });
      });
      send(`PRIVMSG ${sender} :\x01DCC RESUME ${quoteName(offer.filename)} ${offer.port} ${opts.resumeFrom}\x01`);
      report('resume-sent', { port: offer.port, position: opts.resumeFrom });
      const accept = await accepted;
      report('accept-received', accept);
      if (accept.port !== offer.port || accept.position !== opts.resumeFrom) fail('resume', `ACCEPT ${JSON.stringify(accept)} does not match the offer's port ${offer.port}`);
      resumeAt = accept.position;
    }
    sock = await dial(offer.address, offer.port);
  }
  const { data, acks } = await receiveFile(sock, offer.size, resumeAt);
  if (opts.out) writeFileSync(opts.out, data);
  report('transfer-done', { role: 'receiver', bytes: data.length, start: resumeAt, sha256: sha256(data), acks });
  quit();
}

function readLine(sock) {
  return new Promise((resolve) => {
    let buf = '';
    sock.setEncoding('latin1');
    const onData = (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        sock.off('data', onData);
        resolve(buf.slice(0, nl).replace(/\r$/, ''));
      }
    };
    sock.on('data', onData);
    sock.on('error', (err) => fail('chat', err.message));
  });
}

async function runChatOffer() {
  const listenHost = opts.dccListen ?? irc.localAddress;
  const advertised = opts.advertise ?? listenHost;
  await waitForNick(opts.peer);
  const server = await listenOnce(listenHost);
  const port = opts.advertisePort ?? server.address().port;
  const body = `DCC CHAT chat ${offerAddress(advertised, opts.addressForm)} ${port}`;
  send(`PRIVMSG ${opts.peer} :\x01${body}\x01`);
  report('offer-sent', { body, address: advertised, port });
  const sock = await accepted(server);
  sock.write(`hello from ${opts.nick}\n`);
  report('chat-line', { text: await readLine(sock) });
  sock.end();
  quit();
}

async function runChatAccept() {
  const offer = await new Promise((resolve) => {
    onLine((msg, line) => {
      if (msg.command !== 'PRIVMSG') return;
      const m = /\x01DCC CHAT chat ([^ \x01]+) (\d+)/i.exec(msg.params[msg.params.length - 1] ?? '');
      if (m) resolve({ from: msg.prefix, line, ...readOfferAddress(m[1]), port: Number(m[2]) });
    });
  });
  report('offer-received', offer);
  const sock = await dial(offer.address, offer.port);
  report('chat-line', { text: await readLine(sock) });
  sock.end(`hello from ${opts.nick}\n`);
  quit();
}

async function runIdle() {
  onLine((msg, line) => {
    if (msg.command === 'PRIVMSG' || msg.command === 'NOTICE') {
      report('message', { from: msg.prefix, command: msg.command, params: msg.params, line });
      if (msg.command === 'PRIVMSG' && opts.quitOn !== undefined && msg.params[1] === opts.quitOn && !quitting) quit();
    }
    else if (/^[0-9]{3}$/.test(msg.command) && Number(msg.command) >= 400) report('server-error', { line });
  });
  if (opts.peer && opts.sendHex.length > 0) await waitForNick(opts.peer);
  for (const hex of opts.sendHex) {
    writeRaw(Buffer.from(hex, 'hex'));
    report('sent-raw', { hex });
  }
  if (opts.sendEndless !== undefined) {
    // A line that never ends: a PRIVMSG start and N more bytes, no line end.
    writeRaw(Buffer.from(`PRIVMSG ${opts.peer ?? '*'} :${'x'.repeat(opts.sendEndless)}`, 'latin1'));
    report('sent-endless', { bytes: opts.sendEndless });
  }
  setTimeout(() => quit(), opts.lingerMs);
}

await connectIrc();
switch (opts.role) {
  case 'send':
    await runSend();
    break;
  case 'receive':
    await runReceive();
    break;
  case 'idle':
    await runIdle();
    break;
  case 'chat-offer':
    await runChatOffer();
    break;
  case 'chat-accept':
    await runChatAccept();
    break;
}
