// A stand-in for nft, for the tests that need no root: `node fake-nft.mjs DIR [nft args]`.
// Interactive mode (-i) answers as nft 1.0.6 does when stdin is a pipe: silence on success, an
// error on stderr echoing the line, a JSON document per listing, one line at a time and in order.
// Every line is appended to DIR/commands.log. Behaviour is steered by files in DIR:
//   fail       a regular expression: matching lines fail ("Could not process rule")
//   counters   JSON { name: bytes }: what `list counter` reports (1 packet if bytes, else 0)
//   hang       when present, a line matching its regular expression wedges nft: nothing after it
//              is answered (as a real nft stuck in a netlink call)
//   die        when present, lines matching its regular expression make the process exit
//   delay      milliseconds nft takes for each command (default 0): a steady nft that is merely
//              slow, never wedged
//   table      the table as `nft list table` prints it: written by `create table ... { comment }`,
//              removed by `delete table`; a test may write one (another program's table)
// One-shot mode: `list table` prints DIR/table when present, else fails as nft does when there is
// no such table; `delete table` removes DIR/table; anything else succeeds.
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [dir, ...args] = process.argv.slice(2);
const file = (name) => join(dir, name);
const rx = (name) => (existsSync(file(name)) ? new RegExp(readFileSync(file(name), 'utf8').trim()) : null);

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
  if (args[0] === 'delete' && args[1] === 'table') rmSync(file('table'), { force: true });
  process.exit(0);
}

const delay = existsSync(file('delay')) ? Number(readFileSync(file('delay'), 'utf8')) : 0;
let wedged = false;
const answer = (line) => {
  if (line.startsWith('@')) {
    process.stderr.write(`Error: syntax error, unexpected @\n${line}\n^\n`);
    return;
  }
  appendFileSync(file('commands.log'), `${line}\n`);
  if (rx('die')?.test(line)) process.exit(3);
  if (rx('hang')?.test(line)) {
    wedged = true;
    return;
  }
  if (rx('fail')?.test(line)) {
    process.stderr.write(`Error: Could not process rule: No such file or directory\n${line}\n^^^^^\n`);
    return;
  }
  if (/(^|; )delete table inet /.test(line)) rmSync(file('table'), { force: true });
  const made = /create table inet (\S+) \{ comment "([^"]*)"; \}/.exec(line);
  if (made) writeFileSync(file('table'), `table inet ${made[1]} {\n\tcomment "${made[2]}"\n}\n`);
  const m = /^list counter inet (\S+) (\S+)$/.exec(line);
  if (m) {
    const counters = existsSync(file('counters')) ? JSON.parse(readFileSync(file('counters'), 'utf8')) : {};
    const doc = { nftables: [{ metainfo: { version: '1.0.6' } }, { counter: { family: 'inet', name: m[2], table: m[1], handle: 1, packets: counters[m[2]] ? 1 : 0, bytes: counters[m[2]] ?? 0 } }] };
    process.stdout.write(`${JSON.stringify(doc)}\n`);
  }
};

const lines = [];
let busy = false;
const pump = () => {
  while (!busy && !wedged) {
    const line = lines.shift();
    if (line === undefined) return;
    if (line.startsWith('@') || delay === 0) {
      answer(line);
      continue;
    }
    busy = true;
    setTimeout(() => {
      busy = false;
      answer(line);
      pump();
    }, delay);
  }
};
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  lines.push(line);
  pump();
});
rl.on('close', () => {
  const wait = () => (wedged || (lines.length === 0 && !busy) ? process.exit(0) : setTimeout(wait, 5));
  wait();
});
