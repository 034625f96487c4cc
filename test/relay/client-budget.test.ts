/**
 * The per-client budget of data listeners waiting for their peer, shared by all sessions of one
 * client: over it a data command is refused with a 425 and a `data-limit` event; a listener that
 * stops waiting (its peer came, it closed, it was superseded, its session ended) gives its slot back.
 */
import { describe, it, expect } from 'vitest';
import { ClientWaitingBudgets, endpoint, PortRangeSource, type FtpRelaySessionOptions } from '../../src/core/index.js';
import { FakeTransport } from './fake-transport.js';

const CLIENT_LOCAL = endpoint('192.0.2.1', 21);
const SERVER = endpoint('198.51.100.7', 21);
const SERVER_LOCAL = endpoint('198.51.100.1', 40000);
const REFUSAL = '425 Cannot open data connection (too many data connections waiting from your address).';

function session(budgets: ClientWaitingBudgets, client: string, extra: Partial<FtpRelaySessionOptions> = {}): FakeTransport {
  const t = new FakeTransport({
    client: endpoint(client, 50123),
    clientLocal: CLIENT_LOCAL,
    upstream: { host: SERVER.address, port: SERVER.port },
    waitingChannelBudget: budgets.forSession(client),
    ...extra,
  });
  t.connectUpstream(SERVER_LOCAL, SERVER);
  t.send('server', '220 ready\r\n');
  t.send('client', 'USER a\r\n');
  t.send('server', '230 in\r\n');
  return t;
}

/** PASV answered by the server; returns the line the client got. */
function pasv(t: FakeTransport): string {
  t.send('client', 'PASV\r\n');
  t.send('server', '227 Entering Passive Mode (198,51,100,7,19,137)\r\n');
  return t.lines('client').at(-1)!;
}

describe('per-client budget of waiting data listeners', () => {
  it('is shared by the sessions of one client; over it PASV gets 425 and data-limit; another client is served', () => {
    const budgets = new ClientWaitingBudgets(3);
    const a1 = session(budgets, '203.0.113.5');
    const a2 = session(budgets, '203.0.113.5');
    expect(pasv(a1)).toMatch(/^227 /);
    expect(pasv(a1)).toMatch(/^227 /);
    expect(pasv(a2)).toMatch(/^227 /);
    expect(budgets.waitingFor('203.0.113.5')).toBe(3);
    expect(pasv(a2)).toBe(REFUSAL);
    expect(a2.eventsOf('data-limit')).toEqual([{ type: 'data-limit', command: 'PASV', limit: 3 }]);
    expect(a2.eventsOf('command-refused').at(-1)).toMatchObject({ command: 'PASV', reason: 'mapping-refused', reply: REFUSAL });
    expect(a2.closed).toBeNull(); // the session goes on
    const b = session(budgets, '203.0.113.6');
    expect(pasv(b)).toMatch(/^227 /);
    expect(budgets.waitingFor('203.0.113.6')).toBe(1);
  });

  it('a listener whose peer came in gives its slot back at once (the transfer does not hold it)', () => {
    const budgets = new ClientWaitingBudgets(1);
    const t = session(budgets, '203.0.113.5');
    expect(pasv(t)).toMatch(/^227 /);
    const [id] = t.lastChannel();
    expect(t.incoming(id, endpoint('203.0.113.5', 40001))).toBe(true);
    expect(t.channel(id).spliced).toBe(true);
    expect(budgets.waitingFor('203.0.113.5')).toBe(0);
    expect(pasv(t)).toMatch(/^227 /);
  });

  it('a foreign peer does not take the slot; a timed-out listener gives it back', () => {
    const budgets = new ClientWaitingBudgets(1);
    const t = session(budgets, '203.0.113.5', { dataListenTimeoutMs: 1000 });
    expect(pasv(t)).toMatch(/^227 /);
    const [id] = t.lastChannel();
    expect(t.incoming(id, endpoint('198.51.100.66', 40001))).toBe(false);
    expect(budgets.waitingFor('203.0.113.5')).toBe(1);
    t.advance(1000);
    expect(t.channel(id).closed).toBe('no data connection in time');
    expect(budgets.waitingFor('203.0.113.5')).toBe(0);
  });

  it("the session's own oldest waiting listener is superseded first, so one session alone never hits the client's budget", () => {
    const budgets = new ClientWaitingBudgets(2);
    const t = session(budgets, '203.0.113.5', { policy: { maxPendingDataChannels: 2 } });
    for (let k = 0; k < 10; k++) expect(pasv(t)).toMatch(/^227 /);
    expect(t.eventsOf('data-limit')).toHaveLength(0);
    expect(budgets.waitingFor('203.0.113.5')).toBe(2);
  });

  it('a session that ends gives back every slot it held; a refused port gives its slot back', () => {
    const budgets = new ClientWaitingBudgets(4);
    const t = session(budgets, '203.0.113.5');
    pasv(t);
    pasv(t);
    expect(budgets.waitingFor('203.0.113.5')).toBe(2);
    t.session.close('bye', t.now);
    t.run();
    expect(budgets.waitingFor('203.0.113.5')).toBe(0);
    expect(budgets.clients).toBe(0);
    // One port in the range: the second PASV finds none, and its slot is not kept.
    const u = session(budgets, '203.0.113.5', { dataPorts: new PortRangeSource(50000, 50000) });
    expect(pasv(u)).toMatch(/^227 /);
    expect(pasv(u)).toBe('425 Cannot open data connection (no free data port).');
    expect(budgets.waitingFor('203.0.113.5')).toBe(1);
  });

  it('releaseAll gives back what a session still holds, once', () => {
    const budgets = new ClientWaitingBudgets(4);
    const h = budgets.forSession('x');
    const other = budgets.forSession('x');
    expect(h.take() && h.take() && other.take()).toBe(true);
    h.releaseAll();
    h.releaseAll();
    h.release();
    expect(budgets.waitingFor('x')).toBe(1);
  });
});
