// A stand-in for nft, for the tests that need no root: `node fake-nft.mjs DIR [nft args]`.
// Interactive mode (-i) answers as nft 1.0.6 does when stdin is a pipe: silence on success, an
// error on stderr echoing the line, a JSON document per listing, one line at a time and in order.
// Every line is appended to DIR/commands.log. Behaviour is steered by files in DIR:
//   fail       a regular expression: matching lines fail ("Could not process rule")
//   counters   JSON { name: bytes }: what `list counter` and `list counters table` report (1 packet
//              if bytes, else 0); the table listing names these and every counter added and not
//              deleted since the process started (at 0)
//   hang       when present, a line matching its regular expression wedges nft: nothing after it
//              is answered (as a real nft stuck in a netlink call)
//   die        when present, lines matching its regular expression make the process exit
//   delay      milliseconds nft takes for each command (default 0): a steady nft that is merely
//              slow, never wedged. Counters are read when nft takes a command up (as the real one
//              reads the kernel then), and the command is appended to DIR/started.log at that moment
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

/** Read per command: a test may make nft slow after it started. */
const delayNow = () => (existsSync(file('delay')) ? Number(readFileSync(file('delay'), 'utf8')) : 0);
let wedged = false;
/** Counters added by commands and not deleted since. */
const added = new Set();
const readCounters = () => (existsSync(file('counters')) ? JSON.parse(readFileSync(file('counters'), 'utf8')) : {});
const answer = (line, counters = readCounters()) => {
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
  for (const [, name] of line.matchAll(/(?:^|; )add counter inet \S+ ([^\s;]+)/g)) added.add(name);
  for (const [, name] of line.matchAll(/(?:^|; )delete counter inet \S+ ([^\s;]+)/g)) added.delete(name);
  const made = /create table inet (\S+) \{ comment "([^"]*)"; \}/.exec(line);
  if (made) writeFileSync(file('table'), `table inet ${made[1]} {\n\tcomment "${made[2]}"\n}\n`);
  const m = /^list counter inet (\S+) (\S+)$/.exec(line);
  if (m) {
    const doc = { nftables: [{ metainfo: { version: '1.0.6' } }, { counter: { family: 'inet', name: m[2], table: m[1], handle: 1, packets: counters[m[2]] ? 1 : 0, bytes: counters[m[2]] ?? 0 } }] };
    process.stdout.write(`${JSON.stringify(doc)}\n`);
  }
  const all = /^list counters table inet (\S+)$/.exec(line);
  if (all) {
    const names = new Set([...added, ...Object.keys(counters)]);
    const items = [...names].map((name) => [name, counters[name] ?? 0]).map(([name, bytes], handle) => ({ counter: { family: 'inet', name, table: all[1], handle, packets: bytes ? 1 : 0, bytes } }));
    process.stdout.write(`${JSON.stringify({ nftables: [{ metainfo: { version: '1.0.6' } }, ...items] })}\n`);
  }
};

const lines = [];
let busy = false;
const pump = () => {
  while (!busy && !wedged) {
    const line = lines.shift();
    if (line === undefined) return;
    const delay = delayNow();
    if (line.startsWith('@') || delay === 0) {
      answer(line);
      continue;
    }
    busy = true;
    const counters = readCounters();
    appendFileSync(file('started.log'), `${line}\n`);
    setTimeout(() => {
      busy = false;
      answer(line, counters);
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
