/** A 1 KB origin for the proxy benchmarks, in its own process. Usage: node dist/scripts/bench-origin.js */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const body = Buffer.alloc(1024, 'x');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`origin on ${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
