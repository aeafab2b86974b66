/**
 * Two `serve` nodes against one PostgreSQL against one node (bench-store.ts --serve-nodes): the same count
 * of requests from the same Node load loop (C keep-alive clients over loopback, plain HTTP to a local
 * origin), all to one node, then spread over both. On one 2-core machine the nodes, PostgreSQL, the origin
 * and the load share the cores, so this shows the cost of a second node more than its gain.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startProcess, waitForOutput, type Started } from './spawn.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const cli = path.join(here, '..', '..', 'src', 'cli', 'main.js');
const ORIGIN_NAME = 'origin.bench.test';

async function startNode(
  dir: string,
  url: string,
  node: string,
  originPort: number,
): Promise<{ p: Started; port: number }> {
  mkdirSync(dir, { recursive: true });
  // A name, not the IP literal (refused by the policy): the hosts file routes it to the origin.
  writeFileSync(path.join(dir, 'hosts'), `127.0.0.1 ${ORIGIN_NAME}\n`);
  const file = path.join(dir, 'config.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      httpPorts: [originPort],
      hostsFile: path.join(dir, 'hosts'),
      console: { enabled: false },
      log: { level: 'warn' },
      store: { postgres: { url } },
    }),
  );
  const p = startProcess([], process.execPath, [
    cli,
    'serve',
    '--workers',
    '1',
    '--node',
    node,
    '--config',
    file,
    '--data',
    path.join(dir, 'data'),
  ]);
  const m = await waitForOutput(p, /filtering on [^\s]+:(\d+)/, `serve node ${node}`);
  return { p, port: Number(m[1]) };
}

/** `total` requests from `clients` keep-alive clients, client i on ports[i % ports.length]; req/s. */
async function load(ports: number[], originPort: number, total: number, clients: number): Promise<number> {
  let left = total;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const port = ports[i % ports.length]!;
      while (left-- > 0)
        await new Promise<void>((resolve, reject) => {
          const req = http.request(
            {
              host: '127.0.0.1',
              port,
              agent,
              path: `http://${ORIGIN_NAME}:${originPort}/n${left}`,
              headers: { host: `${ORIGIN_NAME}:${originPort}` },
            },
            (res) => {
              res.resume();
              res.on('end', () =>
                res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
              );
            },
          );
          req.on('error', reject);
          req.end();
        });
      agent.destroy();
    }),
  );
  return Math.round(total / ((performance.now() - started) / 1000));
}

export async function benchServeNodes(
  dir: string,
  url: string,
  total: number,
  clients: number,
): Promise<void> {
  const origin = http.createServer((_, res) => res.end('x'.repeat(1024)));
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  const originPort = (origin.address() as { port: number }).port;
  const a = await startNode(path.join(dir, 'node-a'), url, 'bench-a', originPort);
  const b = await startNode(path.join(dir, 'node-b'), url, 'bench-b', originPort);
  try {
    await load([a.port, b.port], originPort, 200, clients); // warm-up of both
    const one = await load([a.port], originPort, total, clients);
    const two = await load([a.port, b.port], originPort, total, clients);
    console.log(`serve on PostgreSQL, ${total} requests, ${clients} keep-alive clients (Node load loop):`);
    console.log(`  one node:  ${one} req/s`);
    console.log(`  two nodes: ${two} req/s combined (${(two / one).toFixed(2)}x one)`);
  } finally {
    a.p.child.kill('SIGTERM');
    b.p.child.kill('SIGTERM');
    origin.close();
  }
}
