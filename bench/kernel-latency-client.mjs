// Data-channel setup latency, as a client sees it: `node kernel-latency-client.mjs HOST PORT N FILE`.
// Logs in once, then N times: PASV sent -> 227 read -> data connection to the address it names
// established (the ms between the first and the last are one sample), then RETR FILE read to its
// end and the 226, so the channel is done before the next one. Prints {"samples":[...]} at the end.
import net from 'node:net';
import { performance } from 'node:perf_hooks';

const [host, portText, nText, file] = process.argv.slice(2);
const n = Number(nText);

const socket = net.connect({ host, port: Number(portText) });
socket.setNoDelay(true);
socket.setEncoding('latin1');
let buf = '';
const waiters = [];
const lines = [];
socket.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
    const line = buf.slice(0, i).replace(/\r$/, '');
    buf = buf.slice(i + 1);
    if (!/^\d{3} /.test(line)) continue;
    const w = waiters.shift();
    if (w) w(line);
    else lines.push(line);
  }
});
socket.on('error', (e) => {
  console.log(JSON.stringify({ error: e.message }));
  process.exit(1);
});
const reply = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));
const send = (line) => {
  socket.write(`${line}\r\n`);
  return reply();
};

function dataConnect(h, p) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: h, port: p, localAddress: socket.localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const samples = [];
await reply();
await send('USER anonymous');
await send('PASS bench@');
await send('TYPE I');
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  const r = await send('PASV');
  const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(r);
  if (!m) {
    console.log(JSON.stringify({ error: `PASV: ${r}` }));
    process.exit(1);
  }
  const [a, b, c, d, p1, p2] = m.slice(1).map(Number);
  const data = await dataConnect(`${a}.${b}.${c}.${d}`, p1 * 256 + p2);
  samples.push(performance.now() - t0);
  const done = new Promise((resolve) => data.on('close', resolve));
  data.resume();
  const first = await send(`RETR ${file}`);
  if (!first.startsWith('1')) {
    console.log(JSON.stringify({ error: `RETR: ${first}` }));
    process.exit(1);
  }
  await done;
  await reply();
}
await send('QUIT');
console.log(JSON.stringify({ samples }));
process.exit(0);
