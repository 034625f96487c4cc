// A stand-in for nft for the review tests (no root): `node stand-in-nft.mjs DIR [nft args]`.
// Interactive mode (-i) answers like nft 1.0.6 with stdin a pipe (silence on success, an echo of
// an unparsable line on stderr, one JSON document per `list counter`), one line at a time, each
// after DIR/delay milliseconds (default 0): a steady nft that is merely slow, never wedged.
// One-shot mode: `list table` prints DIR/table when present (exit 0), else fails as nft does
// when there is no such table; anything else succeeds. Every line goes to DIR/commands.log.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [dir, ...args] = process.argv.slice(2);
const file = (name) => join(dir, name);

if (!args.includes('-i')) {
  appendFileSync(file('commands.log'), `oneshot ${args.join(' ')}\n`);
  if (args[0] === 'list') {
    if (existsSync(file('table'))) {
      process.stdout.write(readFileSync(file('table'), 'utf8'));
      process.exit(0);
    }
    process.stderr.write('Error: No such file or directory\n');
    process.exit(1);
  }
  process.exit(0);
}

const delay = existsSync(file('delay')) ? Number(readFileSync(file('delay'), 'utf8')) : 0;
const lines = [];
let busy = false;
const answer = (line) => {
  if (line.startsWith('@')) {
    process.stderr.write(`Error: syntax error, unexpected @\n${line}\n^\n`);
    return;
  }
  appendFileSync(file('commands.log'), `${line}\n`);
  const m = /^list counter inet (\S+) (\S+)$/.exec(line);
  if (m) {
    const doc = { nftables: [{ metainfo: { version: '1.0.6' } }, { counter: { family: 'inet', name: m[2], table: m[1], handle: 1, packets: 1, bytes: 0 } }] };
    process.stdout.write(`${JSON.stringify(doc)}\n`);
  }
};
const pump = () => {
  if (busy) return;
  const line = lines.shift();
  if (line === undefined) return;
  if (line.startsWith('@') || delay === 0) {
    answer(line);
    pump();
    return;
  }
  busy = true;
  setTimeout(() => {
    answer(line);
    busy = false;
    pump();
  }, delay);
};
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  lines.push(line);
  pump();
});
rl.on('close', () => {
  const wait = () => (lines.length === 0 && !busy ? process.exit(0) : setTimeout(wait, 5));
  wait();
});
