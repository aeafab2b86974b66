/** A loopback origin server for tests: answers every request with a known body and echoes what it saw. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Origin {
  port: number;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export const ORIGIN_BODY = 'hello from the origin\n' + 'x'.repeat(1000);

export async function startOrigin(host = '127.0.0.1'): Promise<Origin> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(200, { 'content-type': 'text/plain', 'x-origin': 'yes' });
      res.end(ORIGIN_BODY);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
