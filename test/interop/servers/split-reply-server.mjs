// A scripted FTP server for the packet NAT test: it answers a download in passive mode and writes
// each 227 reply in two TCP segments with a pause between them (Nagle off), so that the reply is
// split across segments the NAT must join to translate. Usage: node split-reply-server.mjs HOST
// PORT FILE; prints READY when it listens.
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';

const [host, port, file] = process.argv.slice(2);
const data = readFileSync(file);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

createServer((c) => {
  c.setNoDelay(true);
  c.on('error', () => undefined);
  let buffered = '';
  let queue = Promise.resolve();
  let dataSocket = null;
  let waiting = null;
  const nextData = () => (dataSocket ? Promise.resolve(dataSocket) : new Promise((r) => (waiting = r)));
  const handle = async (line) => {
    const verb = line.split(' ')[0].toUpperCase();
    switch (verb) {
      case 'USER': return void c.write('331 Any password.\r\n');
      case 'PASS': return void c.write('230 Logged in.\r\n');
      case 'PWD': return void c.write('257 "/" is the current directory.\r\n');
      case 'TYPE': return void c.write('200 Type set.\r\n');
      case 'SIZE': return void c.write(`213 ${data.length}\r\n`);
      case 'PASV': {
        dataSocket = null;
        const listener = createServer((d) => {
          listener.close();
          d.on('error', () => undefined);
          dataSocket = d;
          if (waiting) waiting(d);
        });
        await new Promise((r) => listener.listen(0, host, r));
        const p = listener.address().port;
        c.write(`227 Entering Passive Mode (${host.split('.').join(',')},`);
        await sleep(400);
        return void c.write(`${p >> 8},${p & 255}).\r\n`);
      }
      case 'RETR': {
        c.write('150 Opening data connection.\r\n');
        const d = await nextData();
        await new Promise((r) => d.end(data, r));
        return void c.write('226 Transfer complete.\r\n');
      }
      case 'QUIT': return void c.end('221 Bye.\r\n');
      default: return void c.write('502 Not implemented.\r\n');
    }
  };
  c.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
      const line = buffered.slice(0, i).replace(/\r$/, '');
      buffered = buffered.slice(i + 1);
      queue = queue.then(() => handle(line));
    }
  });
  c.write('220 split-reply server ready.\r\n');
}).listen(Number(port), host, () => console.log('READY'));
