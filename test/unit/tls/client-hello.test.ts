/**
 * parseClientHello reads real clients' hellos and refuses the malformed shapes found by
 * test/fuzz/client-hello.test.ts, where a lenient reading could name another host than the server reads.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { parseClientHello } from '../../../src/tls/client-hello.js';
import {
  alpnExtension,
  clientHelloMessage,
  inRecords,
  sniExtension,
  type Extension,
} from '../../helpers/client-hello.js';

/** The first flight Node's own TLS client (OpenSSL) sends for this name and ALPN list. */
async function realClientHello(servername: string, ALPNProtocols: string[]): Promise<Buffer> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = tls.connect({ host: '127.0.0.1', port, servername, ALPNProtocols });
  client.on('error', () => {});
  const [socket] = await accepted;
  let bytes = Buffer.alloc(0);
  for await (const chunk of socket) {
    bytes = Buffer.concat([bytes, chunk as Buffer]);
    if (parseClientHello(bytes) !== 'more') break;
  }
  client.destroy();
  socket.destroy();
  server.close();
  return bytes;
}

const withSni = (sni: Extension[]) =>
  inRecords(clientHelloMessage({ extensions: [alpnExtension(['h2']), ...sni] }));
const edited = (edit: (data: Buffer) => void): Extension => {
  const data = Buffer.from(sniExtension([{ name: 'allowed.test' }]).data);
  edit(data);
  return { type: 0, data };
};

describe('parseClientHello', () => {
  it('reads the SNI and ALPN of a real OpenSSL client', async () => {
    const bytes = await realClientHello('Blocked.Example', ['h2', 'http/1.1']);
    expect(parseClientHello(bytes)).toEqual({ sni: 'blocked.example', alpn: ['h2', 'http/1.1'], ech: false });
  });

  it.each([
    // Two names: we read the last, a lenient server the first (OpenSSL refuses: BAD_EXTENSION).
    ['two host_names', [sniExtension([{ name: 'blocked.example' }, { name: 'allowed.test' }])]],
    [
      'two SNI extensions',
      [sniExtension([{ name: 'blocked.example' }]), sniExtension([{ name: 'allowed.test' }])],
    ],
    ['a list length one too long', [edited((d) => d.writeUInt16BE(d.readUInt16BE(0) + 1, 0))]],
    ['a list length one too short', [edited((d) => d.writeUInt16BE(d.readUInt16BE(0) - 1, 0))]],
    ['a name length past the list', [edited((d) => d.writeUInt16BE(d.readUInt16BE(3) + 5, 3))]],
    ['an empty name', [sniExtension([{ name: '' }])]],
    ['a name type other than host_name', [sniExtension([{ type: 1, name: 'allowed.test' }])]],
    [
      'a non-ASCII byte (latin1 soft hyphen) in the name',
      [sniExtension([{ name: Buffer.from('blo\xadcked.example', 'latin1') }])],
    ],
  ] as const)('refuses a hello with %s', (_what, sni) => {
    expect(parseClientHello(withSni([...sni]))).toBeNull();
  });

  it('refuses extensions that overrun or fall short of the message, and a bad ALPN list', () => {
    const good = clientHelloMessage({ extensions: [sniExtension([{ name: 'allowed.test' }])] });
    const trailing = Buffer.concat([good, Buffer.from([0])]);
    trailing.writeUIntBE(trailing.length - 4, 1, 3);
    expect(parseClientHello(inRecords(good))).toMatchObject({ sni: 'allowed.test' });
    expect(parseClientHello(inRecords(trailing))).toBeNull();
    const alpn = alpnExtension(['h2']);
    alpn.data[2] = 9; // a protocol name longer than the list
    expect(parseClientHello(inRecords(clientHelloMessage({ extensions: [alpn] })))).toBeNull();
  });
});
