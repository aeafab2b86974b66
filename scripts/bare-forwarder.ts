/**
 * The baseline for bench-proxy: a bare http-proxy forwarder with nothing else — no filtering, no
 * authentication, no audit. Usage: node dist/scripts/bare-forwarder.js <port>
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import HttpProxy from 'http-proxy';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = HttpProxy.createProxyServer({});

const server = http.createServer((req, res) => {
  let target: URL;
  try {
    target = new URL(req.url ?? '');
  } catch {
    res.writeHead(400).end();
    return;
  }
  req.url = `${target.pathname}${target.search}`;
  proxy.web(req, res, { target: target.origin, agent }, () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`bare forwarder on ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
