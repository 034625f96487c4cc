// A stand-in for nft, for the tests that need no root: `node fake-nft.mjs DIR [nft args]`.
// Interactive mode (-i) answers as nft 1.0.6 does when stdin is a pipe: silence on success, an
// error on stderr echoing the line, a JSON document per listing. Every line is appended to
// DIR/commands.log. Behaviour is steered by files in DIR:
//   fail       a regular expression: matching lines fail ("Could not process rule")
//   counters   JSON { name: bytes }: what `list counter` reports
//   hang       when present, a line matching its regular expression wedges nft: nothing after it
//              is answered (as a real nft stuck in a netlink call)
//   die        when present, lines matching its regular expression make the process exit
// One-shot mode: `list table` fails (no such table), `delete table` succeeds.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [dir, ...args] = process.argv.slice(2);
const file = (name) => join(dir, name);
const rx = (name) => (existsSync(file(name)) ? new RegExp(readFileSync(file(name), 'utf8').trim()) : null);

if (!args.includes('-i')) {
  appendFileSync(file('commands.log'), `oneshot ${args.join(' ')}\n`);
  if (args[0] === 'list') {
    process.stderr.write('Error: No such file or directory\n');
    process.exit(1);
  }
  process.exit(0);
}

const rl = createInterface({ input: process.stdin });
let wedged = false;
rl.on('line', (line) => {
  if (wedged) return;
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
  const m = /^list counter inet (\S+) (\S+)$/.exec(line);
  if (m) {
    const counters = existsSync(file('counters')) ? JSON.parse(readFileSync(file('counters'), 'utf8')) : {};
    const doc = { nftables: [{ metainfo: { version: '1.0.6' } }, { counter: { family: 'inet', name: m[2], table: m[1], handle: 1, packets: 1, bytes: counters[m[2]] ?? 0 } }] };
    process.stdout.write(`${JSON.stringify(doc)}\n`);
  }
});
