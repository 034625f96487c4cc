import { describe, it, expect } from 'vitest';
import type { Transform } from 'node:stream';
import { endpoint, type DataChannelRequest } from '../../src/core/index.js';
import { createFtpTranslatorStreams } from '../../src/node/index.js';

function collect(s: Transform): () => string {
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString('latin1')));
  return () => text;
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('createFtpTranslatorStreams', () => {
  it('rewrites PORT with the endpoint the user resolves, async, in order with later lines', async () => {
    const asked: DataChannelRequest[] = [];
    const { clientToServer, serverToClient } = createFtpTranslatorStreams({
      clientAddress: '192.0.2.5',
      serverAddress: '198.51.100.7',
      resolveDataChannel: async (req) => {
        asked.push(req);
        await tick();
        return endpoint('203.0.113.1', 40000);
      },
    });
    const toServer = collect(clientToServer);
    collect(serverToClient);
    clientToServer.write('USER a\r\nPORT 192,0,2,');
    clientToServer.write('5,4,1\r\nNOOP\r\n');
    clientToServer.end();
    await new Promise((r) => clientToServer.once('end', r));
    expect(toServer()).toBe('USER a\r\nPORT 203,0,113,1,156,64\r\nNOOP\r\n');
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ mode: 'active', command: 'PORT', original: endpoint('192.0.2.5', 1025), connector: 'server' });
  });

  it('rewrites a 227 reply to a PASV the client sent', async () => {
    const { clientToServer, serverToClient } = createFtpTranslatorStreams({
      clientAddress: '192.0.2.5',
      serverAddress: '198.51.100.7',
      resolveDataChannel: () => endpoint('192.0.2.1', 50000),
    });
    const toServer = collect(clientToServer);
    const toClient = collect(serverToClient);
    serverToClient.write('220 ready\r\n');
    clientToServer.write('PASV\r\n');
    await tick();
    expect(toServer()).toBe('PASV\r\n');
    serverToClient.write('227 Entering Passive Mode (198,51,100,7,4,1).\r\n');
    await tick();
    expect(toClient()).toMatch(/^220 ready\r\n227 .*192,0,2,1,195,80/);
  });

  it('answers a refused command itself, out of serverToClient, and forwards nothing', async () => {
    const { clientToServer, serverToClient } = createFtpTranslatorStreams({
      clientAddress: '192.0.2.5',
      serverAddress: '198.51.100.7',
      resolveDataChannel: () => null,
    });
    const toServer = collect(clientToServer);
    const toClient = collect(serverToClient);
    // A local reply waits its turn behind the server's replies: here, just the greeting.
    serverToClient.write('220 ready\r\n');
    clientToServer.write('PORT 198,51,100,99,4,1\r\n'); // bounce: not the client's address
    clientToServer.write('PORT 192,0,2,5,4,1\r\n'); // the user refuses the mapping
    await tick();
    expect(toServer()).toBe('');
    const replies = toClient().split('\r\n').filter(Boolean).slice(1);
    expect(replies).toHaveLength(2);
    for (const r of replies) expect(r).toMatch(/^[45]\d\d /);
  });
});
