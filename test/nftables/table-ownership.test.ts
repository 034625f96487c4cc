// Which table the plane may replace or delete, over the stand-in nft (fake-nft.mjs, whose
// DIR/table is what `nft list table` shows). Only a table a nat-alg instance made (its comment
// `nat-alg pid=... start=...`) whose owner is dead is replaced; any other table of that name is
// the administrator's: start() fails naming it and the fix, touching nothing; stop() deletes only
// the table the plane made. The same against the kernel: single-homed-kernel.test.ts.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataPlaneUnavailableError, type NftablesDataPlane } from '../../src/node/nftables/index.js';
import { commands, makeStandInPlane, removeDir, standInDir } from './stand-in.js';

let dir: string;
beforeEach(() => {
  dir = standInDir('nat-alg-table-owner-');
});
afterEach(() => {
  removeDir(dir);
});

describe('the plane\'s table and other tables of the same name', () => {
  let plane: NftablesDataPlane | null = null;
  afterEach(async () => {
    await plane?.stop().catch(() => undefined);
    plane = null;
  });

  // Debian's /etc/nftables.conf names its firewall `table inet filter`; an operator starts the
  // relay with `--nft-table filter`.
  it('start() refuses a same-named table nat-alg did not make (foreign-table) and leaves it alone', async () => {
    const firewall = 'table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t\ttcp dport 22 accept\n\t}\n}\n';
    writeFileSync(join(dir, 'table'), firewall);
    const p = makeStandInPlane(dir, { tableName: 'filter' });
    plane = p.plane;
    const err = await plane.start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataPlaneUnavailableError);
    expect((err as DataPlaneUnavailableError).cause).toBe('foreign-table');
    expect((err as Error).message).toMatch(/table inet filter exists and was not made by nat-alg.*choose another tableName/);
    // Nothing but the listing reached nft's input: no delete, no create.
    expect(commands(dir).filter((l) => /table inet filter/.test(l))).toEqual(['oneshot list table inet filter']);
    expect(readFileSync(join(dir, 'table'), 'utf8')).toBe(firewall);
  });

  it('a table a dead nat-alg instance left is replaced in one transaction; stop() deletes ours', async () => {
    // pid 1 is alive but its start time is not this one: a reused pid, the owner is gone.
    writeFileSync(join(dir, 'table'), 'table inet nat_alg_si {\n\tcomment "nat-alg pid=1 start=999999999999"\n}\n');
    const p = makeStandInPlane(dir);
    plane = p.plane;
    await plane.start();
    const made = commands(dir).find((l) => l.includes('create table'));
    expect(made).toMatch(/^add table inet nat_alg_si; delete table inet nat_alg_si; create table inet nat_alg_si \{ comment "nat-alg pid=\d+ start=\d+"; \}; table inet nat_alg_si \{/);
    expect(readFileSync(join(dir, 'table'), 'utf8')).toContain(`nat-alg pid=${process.pid} `);
    await plane.stop();
    plane = null;
    expect(commands(dir).at(-1)).toBe('delete table inet nat_alg_si');
    expect(existsSync(join(dir, 'table'))).toBe(false);
  });

  it('stop() after nft died deletes the table only if it is still the one this plane made', async () => {
    const p = makeStandInPlane(dir);
    plane = p.plane;
    await plane.start();
    // nft dies; meanwhile the table was replaced by someone else's of the same name.
    writeFileSync(join(dir, 'die'), 'gate4');
    await plane.open({ id: 1, family: 4, peer: '192.0.2.2', announced: { address: '192.0.2.1', port: 40000 }, target: { address: '198.51.100.2', port: 7000 }, sourceAddress: '198.51.100.1', timeoutMs: 30_000 }).catch(() => undefined);
    const other = 'table inet nat_alg_si {\n\tcomment "someone else"\n}\n';
    writeFileSync(join(dir, 'table'), other);
    await plane.stop();
    plane = null;
    expect(commands(dir).at(-1)).toBe('oneshot list table inet nat_alg_si');
    expect(readFileSync(join(dir, 'table'), 'utf8')).toBe(other);
  });
});
