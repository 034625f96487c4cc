// A small FTP client for the kernel data-plane tests, run inside a namespace:
//   node ftp-probe.mjs SCENARIO HOST PORT [ARGS...]
// It logs in anonymously through the relay and plays one scenario, printing one JSON line per
// step on stdout (the test reads them). Scenarios:
//   intruder-passive FILE INTRUDER   EPSV; connect to the announced port from INTRUDER first (that
//                                    connection must get nothing), then from our own address and
//                                    RETR FILE
//   active-wait FILE GOFILE          EPRT on a listener of our own; wait until GOFILE exists (the
//                                    test meanwhile tries the relay's announced port from a
//                                    stranger), then RETR FILE
//   commands LINE...                 send each line, print each reply
//   hold LINE...                     the same, then keep the session until the relay closes it
//   cut FILE                         EPSV, RETR FILE, read a little, then drop the control
//                                    connection: the data connection must be reset
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';

const [scenario, host, portText, ...args] = process.argv.slice(2);
const port = Number(portText);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = setTimeout(() => {
  out({ event: 'timeout' });
  process.exit(3);
}, 20_000);

function connect(target, p, localAddress) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: target, port: p, ...(localAddress ? { localAddress } : {}) });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads one reply (the last line of a multi-line one), as text. */
class Control {
  constructor(socket) {
    this.socket = socket;
    this.buf = '';
    this.waiters = [];
    this.replies = [];
    socket.setEncoding('latin1');
    socket.on('data', (d) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, i).replace(/\r$/, '');
        this.buf = this.buf.slice(i + 1);
        if (/^\d{3} /.test(line)) this.deliver(line);
      }
    });
    socket.on('close', () => this.deliver(null));
    socket.on('error', () => undefined);
  }
  deliver(line) {
    const w = this.waiters.shift();
    if (w) w(line);
    else this.replies.push(line);
  }
  reply() {
    if (this.replies.length) return Promise.resolve(this.replies.shift());
    return new Promise((r) => this.waiters.push(r));
  }
  async send(line) {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }
}

/** Reads a data connection to its end: bytes, digest, and how it ended. */
function drain(s) {
  return new Promise((resolve) => {
    const h = createHash('sha256');
    let bytes = 0;
    let failure = null;
    s.on('data', (d) => {
      bytes += d.length;
      h.update(d);
    });
    s.on('error', (e) => (failure = e.code ?? e.message));
    s.on('close', () => resolve({ bytes, sha256: h.digest('hex'), failure }));
  });
}

async function login() {
  const c = new Control(await connect(host, port));
  out({ event: 'greeting', reply: await c.reply() });
  await c.send('USER anonymous');
  out({ event: 'login', reply: await c.send('PASS probe@') });
  await c.send('TYPE I');
  return c;
}

function epsvPort(reply) {
  const m = /\|\|\|(\d+)\|/.exec(reply ?? '');
  return m ? Number(m[1]) : null;
}

async function intruderPassive(file, intruder) {
  const c = await login();
  const reply = await c.send('EPSV');
  const dataPort = epsvPort(reply);
  out({ event: 'epsv', reply, port: dataPort });
  // The stranger first: it may reach the port, but must get nothing.
  let stranger;
  try {
    const s = await connect(host, dataPort, intruder);
    stranger = await Promise.race([drain(s), sleep(1500).then(() => ({ bytes: 0, failure: 'still open' }))]);
    s.destroy();
  } catch (e) {
    stranger = { bytes: 0, failure: e.code ?? e.message };
  }
  out({ event: 'stranger', ...stranger });
  const s = await connect(host, dataPort);
  const data = drain(s);
  out({ event: 'retr', reply: await c.send(`RETR ${file}`) });
  out({ event: 'data', ...(await data) });
  out({ event: 'done', reply: await c.reply() });
  await c.send('QUIT');
}

async function activeWait(file, goFile) {
  const c = await login();
  const listener = net.createServer();
  await new Promise((r) => listener.listen(0, c.socket.localAddress, r));
  const accepted = new Promise((r) => listener.once('connection', r));
  const lp = listener.address().port;
  const family = net.isIPv6(c.socket.localAddress) ? 2 : 1;
  out({ event: 'eprt', reply: await c.send(`EPRT |${family}|${c.socket.localAddress}|${lp}|`) });
  while (!existsSync(goFile)) await sleep(20);
  out({ event: 'retr', reply: await c.send(`RETR ${file}`) });
  const s = await accepted;
  listener.close();
  out({ event: 'data', from: s.remoteAddress, ...(await drain(s)) });
  out({ event: 'done', reply: await c.reply() });
  await c.send('QUIT');
}

async function commands(lines) {
  const c = await login();
  for (const line of lines) out({ event: 'reply', line, reply: await c.send(line) });
  await c.send('QUIT');
}

async function hold(lines) {
  const c = await login();
  for (const line of lines) out({ event: 'reply', line, reply: await c.send(line) });
  const closed = new Promise((r) => c.socket.on('close', r));
  await closed;
  out({ event: 'closed' });
}

async function cut(file) {
  const c = await login();
  const dataPort = epsvPort(await c.send('EPSV'));
  const s = await connect(host, dataPort);
  let bytes = 0;
  let failure = null;
  s.on('data', (d) => {
    bytes += d.length;
    // Read slowly: the transfer must still run when the control connection goes.
    s.pause();
    setTimeout(() => s.resume(), 50);
  });
  s.on('error', (e) => (failure = e.code ?? e.message));
  const closed = new Promise((r) => s.on('close', r));
  out({ event: 'retr', reply: await c.send(`RETR ${file}`) });
  await sleep(500);
  out({ event: 'dropping', bytes });
  c.socket.resetAndDestroy();
  // The kernel resets what the cut flow still sends. A client that has read everything sends
  // nothing more and would never hear of it; so it says something now and then (a byte on a RETR
  // data connection, which the server does not read), as a client with more to say would.
  const poke = setInterval(() => {
    if (!s.destroyed) s.write('x');
  }, 200);
  await Promise.race([closed, sleep(5000)]);
  clearInterval(poke);
  out({ event: 'data', bytes, failure, closed: s.destroyed });
  s.destroy();
}

const run = { 'intruder-passive': () => intruderPassive(args[0], args[1]), 'active-wait': () => activeWait(args[0], args[1]), commands: () => commands(args), hold: () => hold(args), cut: () => cut(args[0]) }[scenario];
if (!run) {
  out({ event: 'error', message: `unknown scenario ${scenario}` });
  process.exit(2);
}
run().then(
  () => {
    clearTimeout(deadline);
    process.exit(0);
  },
  (e) => {
    out({ event: 'error', message: String(e?.stack ?? e) });
    process.exit(1);
  },
);
