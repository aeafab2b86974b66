/**
 * The Node origins, each in its own process: plain HTTP (when nginx is not installed), and HTTPS presenting
 * a different certificate per host name (SNI), so a proxy's certificate cache cannot serve a new host from
 * an old one. Bodies: /1k and /100k (anything else: 1 KB).
 *   node dist/scripts/bench/origin-server.js http
 *   node dist/scripts/bench/origin-server.js https <ca-dir>    (a CA made by createCa in that folder)
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { readCa } from '../../src/tls/ca.js';
import { LeafCertificates } from '../../src/tls/leaf.js';

const bodies = new Map([
  ['/1k', Buffer.alloc(1024, 'x')],
  ['/100k', Buffer.alloc(100 * 1024, 'x')],
]);

function answer(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const body = bodies.get((req.url ?? '/').split('?')[0]!) ?? bodies.get('/1k')!;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}

const [kind, caDir] = process.argv.slice(2);
let server: http.Server | https.Server;
if (kind === 'https') {
  const ca = readCa(caDir!);
  if (!ca) throw new Error(`no CA in ${caDir}`);
  // A bounded cache: each new host name gets its own leaf (one shared key, signed natively).
  const leaves = new LeafCertificates(ca, { validityDays: 7, cacheSize: 100_000 });
  server = https.createServer(
    {
      SNICallback: (name, cb) => {
        leaves.get(name.toLowerCase()).then(
          (leaf) => cb(null, leaf.context()),
          (err: Error) => cb(err),
        );
      },
    },
    answer,
  );
} else {
  server = http.createServer(answer);
}
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`ready ${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
