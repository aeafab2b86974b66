/**
 * Idle-connection storm: opens --connections (default 2,000) connections to the real proxy at once, spread
 * over loopback addresses 127.0.0.1-127.0.0.16, that never send a byte, and waits while the proxy times
 * them all out (headersTimeout). A probe sends an allowed request through the proxy every 50 ms the whole
 * time: its slowest answer is how long the proxy stalled. Also reported: the proxy's event-loop lag max
 * and p99 over the storm (its /metrics histogram is reset by the scrape before the storm), RSS and heap
 * before and after, and rows versus connections.
 *
 *   npm run build && node dist/scripts/idle-storm.js [--connections 2000] [--headers-timeout-ms 5000]
 *     [--keep-alive] (each connection sends one request, then idles until keepAliveTimeout)
 *     [--node-options "--cpu-prof"] (the proxy's node flags; it runs in its temp folder)
 */
import http from 'node:http';
import net from 'node:net';
import Database from 'better-sqlite3';
import { flag, listOption, numberOption } from './args.js';
import { basic, metrics, sleep, startSoakProxy, stopAll } from './soak-setup.js';

const CONNECTIONS = numberOption('connections', 2_000);
const HEADERS_TIMEOUT_MS = numberOption('headers-timeout-ms', 5_000);
const KEEP_ALIVE = flag('keep-alive');
const NODE_OPTIONS = listOption('node-options');

async function main(): Promise<void> {
  const s = await startSoakProxy({
    nodeOptions: NODE_OPTIONS,
    limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, keepAliveTimeoutMs: HEADERS_TIMEOUT_MS },
  });
  const db = new Database(s.auditDb, { readonly: true });
  const rows = () => (db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const probe = () =>
    new Promise<number>((resolve, reject) => {
      const t0 = performance.now();
      http
        .get(
          {
            host: '127.0.0.1',
            port: s.proxyPort,
            path: `http://allowed.test:${s.httpPort}/`,
            agent,
            headers: { host: `allowed.test:${s.httpPort}`, 'proxy-authorization': basic('pupil') },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(performance.now() - t0));
          },
        )
        .on('error', reject);
    });
  for (let i = 0; i < 20; i++) await probe(); // warm up (JIT, credentials cache)
  const rowsBefore = rows();
  const before = await metrics(s.proxyPort); // also resets the lag histogram

  let slowest = 0;
  let probes = 0;
  let probing = true;
  const probeLoop = (async () => {
    while (probing) {
      slowest = Math.max(slowest, await probe());
      probes++;
      await sleep(50);
    }
  })();

  const request = `GET http://allowed.test:${s.httpPort}/ HTTP/1.1\r\nHost: allowed.test:${s.httpPort}\r\nProxy-Authorization: ${basic('pupil')}\r\n\r\n`;
  const closed: Promise<void>[] = [];
  const connected: Promise<void>[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const socket = net.connect({
      port: s.proxyPort,
      host: '127.0.0.1',
      localAddress: `127.0.0.${1 + (i % 16)}`,
    });
    socket.resume();
    connected.push(new Promise((resolve) => socket.once('connect', () => resolve())));
    closed.push(
      new Promise((resolve) => {
        socket.on('error', () => resolve());
        socket.once('close', () => resolve());
      }),
    );
    if (KEEP_ALIVE) socket.write(request);
  }
  const t0 = performance.now();
  await Promise.all(connected);
  // The proxy has accepted them all (its fds show it): the next window holds only the timeouts.
  let acceptLagMax = 0;
  for (;;) {
    const m = await metrics(s.proxyPort);
    acceptLagMax = Math.max(acceptLagMax, m.nodejs_eventloop_lag_max_seconds ?? 0);
    if ((m.process_open_fds ?? 0) >= CONNECTIONS) break;
    await sleep(100);
  }
  const acceptSlowest = slowest;
  slowest = 0;
  const accepted = await metrics(s.proxyPort); // resets the lag histogram: what follows is the herd's
  await Promise.all(closed);
  const stormMs = performance.now() - t0;
  probing = false;
  await probeLoop;
  const after = await metrics(s.proxyPort);
  let last = -1;
  for (let n = rows(); n !== last; n = rows()) {
    last = n;
    await sleep(500);
  }
  const mb = (x: number | undefined) => ((x ?? 0) / 1e6).toFixed(1);
  console.log(
    `${CONNECTIONS} ${KEEP_ALIVE ? 'keep-alive' : 'silent'} connections, timeout ${HEADERS_TIMEOUT_MS} ms, all closed after ${(stormMs / 1000).toFixed(1)} s`,
  );
  console.log('| | value |\n|---|---:|');
  const ms = (x: number | undefined) => `${((x ?? 0) * 1000).toFixed(0)} ms`;
  console.log(`| slowest probe while they connect | ${acceptSlowest.toFixed(0)} ms |`);
  console.log(
    `| event-loop lag max while they connect | ${ms(Math.max(acceptLagMax, accepted.nodejs_eventloop_lag_max_seconds ?? 0))} |`,
  );
  console.log(`| slowest probe while they time out (${probes} probes in all) | ${slowest.toFixed(0)} ms |`);
  console.log(`| event-loop lag max while they time out | ${ms(after.nodejs_eventloop_lag_max_seconds)} |`);
  console.log(`| event-loop lag p99 while they time out | ${ms(after.nodejs_eventloop_lag_p99_seconds)} |`);
  console.log(
    `| RSS before → after | ${mb(before.process_resident_memory_bytes)} → ${mb(after.process_resident_memory_bytes)} MB |`,
  );
  console.log(
    `| heap used before → after | ${mb(before.nodejs_heap_size_used_bytes)} → ${mb(after.nodejs_heap_size_used_bytes)} MB |`,
  );
  console.log(`| open fds before → after | ${before.process_open_fds} → ${after.process_open_fds} |`);
  console.log(
    `| audit rows written (probes + connections) | ${rows() - rowsBefore} (${probes} + ${CONNECTIONS}) |`,
  );
  db.close();
  agent.destroy();
  stopAll();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
