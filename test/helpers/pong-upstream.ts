/** A raw TCP upstream for tunnel tests: answers 'pong' to every chunk and never closes a connection itself. */
import net from 'node:net';

export interface PongUpstream {
  port: number;
  close(): Promise<void>;
}

export async function startPongUpstream(): Promise<PongUpstream> {
  const server = net.createServer((s) => {
    s.on('data', () => s.write('pong'));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
