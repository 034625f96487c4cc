/**
 * A gateway of your own around the control-channel translator: your net.Server accepts the
 * client and opens the server connection; createFtpTranslatorStreams translates the control
 * lines; openDataChannel carries each data connection the translator asks for (a listener that
 * takes only the expected peer, the connection onwards, the splice). pipeline() joins it all, so
 * that when the translator gives a connection up every socket is closed and the reason is known.
 *
 *   npx tsup --config tsup.scripts.config.ts && node .build/examples/translator-streams.js
 *
 * It runs an FTP server and a client on loopback and transfers a file each way in the four
 * modes through the gateway; exits 0 when every byte arrived, 1 otherwise.
 */

import * as net from 'node:net';
import { pipeline } from 'node:stream';
import { formatEndpoint, type Endpoint } from '../src/core/index.js';
import { createFtpTranslatorStreams, openDataChannel, type DataChannel } from '../src/node/index.js';
import { FtpTestClient, FtpTestServer, type TransferMode } from '../src/testing/index.js';

/** One client: its control connection, the server's, the translator between, its data channels. */
function relayControl(client: net.Socket, upstream: Endpoint, say: (line: string) => void): void {
  const server = net.connect({ host: upstream.address, port: upstream.port, allowHalfOpen: true });
  client.on('error', () => {});
  server.on('error', () => {});
  server.once('connect', () => {
    const channels = new Map<number, DataChannel>();
    const { clientToServer, serverToClient } = createFtpTranslatorStreams({
      // Both as the gateway sees them: the translator checks PORT/EPRT against the client's
      // address (FTP bounce) and knows where passive data connections go.
      clientAddress: client.remoteAddress!,
      serverAddress: server.remoteAddress!,
      // Answer each data-channel request with the endpoint the peer should connect to: a
      // listener of the gateway's own, facing the peer that connects.
      resolveDataChannel: async (request) => {
        const channel = await openDataChannel(request, {
          clientLocal: client.localAddress!, // listen here for the client (PASV/EPSV)
          serverLocal: server.localAddress!, // and here for the server (PORT/EPRT)
        });
        channels.set(request.id, channel);
        channel.on('rejected', (e) => say(`  data port theft refused: ${formatEndpoint(e.peer)}`));
        channel.on('open', (e) => say(`  ${request.label}: ${formatEndpoint(e.peer)} -> gateway -> ${formatEndpoint(e.target)}`));
        channel.on('close', () => channels.delete(request.id));
        return channel.endpoint; // null (or a throw) would refuse the command instead
      },
      onEvent: (event) => {
        // The command was refused by the peer, or superseded: its channel is not needed.
        if (event.type === 'data-channel-released') channels.get(event.id)?.close();
      },
    });
    const done = (err: NodeJS.ErrnoException | null): void => {
      // ERR_NAT_ALG_TRANSLATOR_CLOSED: the translator gave the connection up (its 421 went out).
      if (err && err.code === 'ERR_NAT_ALG_TRANSLATOR_CLOSED') say(`  translator closed the session: ${err.message}`);
      // A channel still waiting for its peer has no session any more; a running transfer goes on.
      for (const ch of channels.values()) if (ch.state === 'listening') ch.close();
    };
    pipeline(client, clientToServer, server, done);
    pipeline(server, serverToClient, client, done);
  });
  server.once('error', () => client.destroy());
}

async function main(): Promise<number> {
  const lines: string[] = [];
  const say = (line: string): void => {
    lines.push(line);
    console.log(line);
  };
  const download = pseudoRandomBytes(512 * 1024 + 3, 1);
  const upload = pseudoRandomBytes(200 * 1024 + 7, 2);
  const ftp = new FtpTestServer({ host: '127.0.0.1', files: { 'pub/file.bin': download } });
  const upstream = await ftp.listen();

  // The gateway: allowHalfOpen, so that a client's FIN does not cut the server's last reply.
  const gateway = net.createServer({ allowHalfOpen: true }, (client) => relayControl(client, upstream, say));
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  const at = gateway.address() as net.AddressInfo;
  say(`gateway ${at.address}:${at.port} -> FTP server ${formatEndpoint(upstream)}`);

  let failures = 0;
  for (const mode of ['pasv', 'epsv', 'port', 'eprt'] as TransferMode[]) {
    say(`== ${mode.toUpperCase()}`);
    const client = await FtpTestClient.connect({ host: at.address, port: at.port }, { mode, timeoutMs: 10_000 });
    try {
      await client.login();
      const got = await client.retrieve('pub/file.bin');
      await client.store(`incoming/${mode}.bin`, upload);
      const stored = ftp.files.get(`/incoming/${mode}.bin`) ?? new Uint8Array(0);
      const ok = equal(got, download) && equal(stored, upload);
      // The client never met the server: its data peers were the gateway's listeners.
      const viaGateway = client.dataPeers.every((p) => !ftp.dataConnections.some((d) => d.local.port === p.port));
      say(`  download ${equal(got, download) ? 'ok' : 'MISMATCH'}, upload ${equal(stored, upload) ? 'ok' : 'MISMATCH'}, ${viaGateway ? 'all through the gateway' : 'BYPASSED the gateway'}`);
      if (!ok || !viaGateway) failures++;
      await client.quit();
    } catch (e) {
      failures++;
      say(`  FAILED: ${e instanceof Error ? e.message : String(e)}`);
      client.close();
    }
  }

  await new Promise<void>((resolve) => gateway.close(() => resolve()));
  await ftp.close();
  say(failures === 0 ? 'All transfers arrived byte for byte.' : `${failures} mode(s) FAILED.`);
  return failures === 0 ? 0 : 1;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

function pseudoRandomBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
