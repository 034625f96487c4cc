/**
 * Entry point of the `nat-alg` command (built to dist/cli.js with a shebang). Only process glue
 * lives here: argv, the environment and the config file in, exit code out. Parsing is in args.ts
 * (with config.ts and the settings table, options.ts), the relays in ftp-command.ts and
 * irc-command.ts, all listeners run by relay-command.ts (listeners.ts); the packet gateway is
 * nat-command.ts (its flags in nat-args.ts).
 */

import { readFileSync } from 'node:fs';
import { FTP_USAGE, IRC_USAGE, MAIN_USAGE, parseArgs } from './args.js';
import { runListeners } from './listeners.js';
import type { CliIo } from './relay-command.js';
import { NAT_USAGE } from './nat-args.js';
import { runNatCommand } from './nat-command.js';
import { VERSION } from './version.js';

function processIo(): CliIo {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    onSignal: (handler) => {
      const onInt = () => handler('SIGINT');
      const onTerm = () => handler('SIGTERM');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
      return () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      };
    },
    now: () => new Date(),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseArgs(argv, { env: process.env, readFile: (path) => readFileSync(path, 'utf8') });
  switch (parsed.kind) {
    case 'help':
      process.stdout.write(parsed.topic === 'ftp' ? FTP_USAGE : parsed.topic === 'irc' ? IRC_USAGE : parsed.topic === 'nat' ? NAT_USAGE : MAIN_USAGE);
      return 0;
    case 'version':
      process.stdout.write(`nat-alg ${VERSION}\n`);
      return 0;
    case 'usage-error':
      process.stderr.write(`nat-alg: ${parsed.message}\nTry "nat-alg ${parsed.topic === 'main' ? '' : `${parsed.topic} `}--help".\n`);
      return 2;
    case 'run':
      for (const w of parsed.warnings) process.stderr.write(`nat-alg: ${w}\n`);
      return runListeners(parsed.listeners, processIo());
    case 'nat':
      return runNatCommand(parsed.options, processIo());
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Leave as soon as nothing is pending; a handle left open by mistake must not keep us alive.
    process.exitCode = code;
    setTimeout(() => process.exit(code), 200).unref();
  },
  (e: unknown) => {
    process.stderr.write(`nat-alg: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
