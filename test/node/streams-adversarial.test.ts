import { describe, it, expect } from 'vitest';
import type { Transform } from 'node:stream';
import { endpoint } from '../../src/core/index.js';
import { createFtpTranslatorStreams } from '../../src/node/index.js';

function collect(s: Transform): () => string {
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString('latin1')));
  return () => text;
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe('createFtpTranslatorStreams: a resolver that answers with an unusable endpoint', () => {
  for (const mode of ['sync', 'async'] as const) {
    it(`(${mode}) an IPv6 endpoint for a 227 refuses the reply instead of leaving a rejected promise`, async () => {
      const rejections: unknown[] = [];
      const onRejection = (r: unknown) => rejections.push(r);
      process.on('unhandledRejection', onRejection);
      try {
        const ep = endpoint('2001:db8::1', 50000);
        const { clientToServer, serverToClient } = createFtpTranslatorStreams({
          clientAddress: '192.0.2.5',
          serverAddress: '198.51.100.7',
          resolveDataChannel: mode === 'sync' ? () => ep : async () => ep,
        });
        collect(clientToServer);
        const toClient = collect(serverToClient);
        serverToClient.write('220 ready\r\n');
        clientToServer.write('PASV\r\n');
        await tick();
        serverToClient.write('227 Entering Passive Mode (198,51,100,7,4,1).\r\n200 next\r\n');
        await tick();
        await tick();
        expect(rejections).toEqual([]);
        expect(toClient()).toMatch(/^220 ready\r\n425 Cannot open data connection \(.*\)\.\r\n200 next\r\n$/);
      } finally {
        process.off('unhandledRejection', onRejection);
      }
    });
  }
});
