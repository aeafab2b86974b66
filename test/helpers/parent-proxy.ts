/**
 * A parent proxy for tests (a local authority's filter): records every request line and CONNECT it gets,
 * and serves them from loopback whatever the host name (names in tests resolve nowhere): absolute-form
 * requests are forwarded to 127.0.0.1 at the URL's port, CONNECTs are piped to 127.0.0.1 at theirs.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

export interface ParentProxyServer {
  port: number;
  /** "GET http://host:port/path", "CONNECT host:port", in arrival order. */
  seen: string[];
  /** Headers of each forwarded request, same order as its line in `seen`. */
  headers: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

export async function startParentProxy(): Promise<ParentProxyServer> {
  const seen: string[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    headers.push(req.headers);
    const url = new URL(req.url ?? '');
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: Number(url.port || 80),
        method: req.method,
        path: url.pathname + url.search,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  // A CONNECT's sockets leave the server's books (closeAllConnections does not see them): kept here.
  const tunnels = new Set<net.Socket>();
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    tunnels.add(client);
    client.once('close', () => tunnels.delete(client));
    headers.push(req.headers);
    const port = Number(/:(\d+)$/.exec(req.url ?? '')?.[1]);
    const upstream = net.connect({ host: '127.0.0.1', port }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    headers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        for (const socket of tunnels) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
