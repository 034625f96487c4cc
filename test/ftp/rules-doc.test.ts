/**
 * docs/ftp-translator.md shows the rules tables of src/core/ftp/rules.ts; this keeps them equal,
 * so that what a reader is told is what the code does.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS, FINAL_REPLIES } from '../../src/core/ftp/rules.js';

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'ftp-translator.md'), 'utf8');

/** The rows of the markdown table whose header starts with `| first |`. */
function table(first: string): string[][] {
  const lines = doc.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`| ${first} |`));
  expect(at, `table "${first}" in the docs`).toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (let i = at + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(lines[i]!.split('|').slice(1, -1).map((c) => c.trim().replace(/`/g, '')));
  }
  return rows;
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

describe('the docs show the rules the code runs', () => {
  it('commands', () => {
    const code = Object.entries(COMMANDS).map(([verb, r]) => [verb, r.read, r.awaits, r.afterEpsvAll, r.underTlsRefuse, yesNo(r.waitsForReply)]);
    expect(table('verb')).toEqual(code);
  });

  it('final replies', () => {
    const code = Object.entries(FINAL_REPLIES).map(([kind, r]) => [kind, yesNo(r.answered), r.positive, r.negative]);
    expect(table('entry')).toEqual(code);
  });
});
