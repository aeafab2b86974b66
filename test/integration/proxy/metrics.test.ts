/**
 * `GET /metrics` on the proxy port, end to end on loopback: real proxy, real origin, real TLS, read back
 * with a strict exposition-format parser. Counters move after the answer (the exchange's `committed` and
 * `completed` events are delivered after the current turn), so a test polls /metrics a bounded number of
 * times until the expected count shows, then asserts the exact value.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { startOrigin, ORIGIN_BODY, type Origin } from '../../helpers/origin.js';
import {
  histogramOf,
  parseMetrics,
  valueOf,
  type Metrics,
  type MetricType,
} from '../../helpers/prometheus.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

let origin: Origin;
let sg: RunningSchoolgate;
let outsider: RunningSchoolgate;
let categoriesDir: string;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An origin-form GET to the proxy port, as `curl http://127.0.0.1:3128/metrics` sends it. */
function get(port: number, pathname: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function scrape(): Promise<Metrics> {
  const res = await get(sg.address.port, '/metrics');
  expect(res.status).toBe(200);
  return parseMetrics(res.body);
}

/** Scrapes until `done` holds; at most 1,000 scrapes, 10 ms apart (events arrive within a turn or two; a busy machine may take longer). */
async function scrapeUntil(what: string, done: (m: Metrics) => boolean): Promise<Metrics> {
  let last: Metrics | undefined;
  for (let attempt = 0; attempt < 1_000; attempt++) {
    last = await scrape();
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`/metrics never showed ${what}`);
}

const requests = (m: Metrics, action: string, kind: string, profile = 'guest') =>
  valueOf(m, 'schoolgate_requests_total', { action, kind, profile });

/** CONNECT through the proxy, then TLS with the school CA trusted: an inspected tunnel, held open. */
function inspectedTunnel(port: number, host: string, hostPort: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('error', reject);
    socket.write(`CONNECT ${host}:${hostPort} HTTP/1.1\r\nHost: ${host}:${hostPort}\r\n\r\n`);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!/^HTTP\/1\.1 200 /.test(head)) return reject(new Error(`CONNECT refused: ${head}`));
      const secure = tls.connect({ socket, servername: host, ca: sg.proxy.tls!.ca.certPem });
      secure.once('secureConnect', () => resolve(secure));
      secure.once('error', reject);
    };
    socket.on('data', onData);
  });
}

function closed(socket: tls.TLSSocket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.destroy();
  });
}

beforeAll(async () => {
  origin = await startOrigin();
  const config = testConfig({ httpPorts: [origin.port], tunnelPorts: [origin.port] });
  categoriesDir = config.categoriesDir;
  sg = await startTestProxy(config);
  // Its technicians sit on 10.9.9.0/24: the loopback test client is an ordinary client there.
  outsider = await startTestProxy(testConfig({ admin: { networks: ['10.9.9.0/24'] } }));
});

afterAll(async () => {
  await sg?.stop();
  await outsider?.stop();
  await origin?.close();
});

describe('GET /metrics', () => {
  it('serves Prometheus text with every schoolgate metric, typed and explained', async () => {
    const res = await get(sg.address.port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    const m = parseMetrics(res.body);
    const expected: Record<string, MetricType> = {
      schoolgate_requests_total: 'counter',
      schoolgate_category_decisions_total: 'counter',
      schoolgate_audit_commit_seconds: 'histogram',
      schoolgate_client_bytes_total: 'counter',
      schoolgate_audit_queue_rows: 'gauge',
      schoolgate_open_connections: 'gauge',
      schoolgate_open_tunnels: 'gauge',
      schoolgate_tls_leaf_cache_hits_total: 'counter',
      schoolgate_tls_leaf_cache_misses_total: 'counter',
      schoolgate_tls_leaf_certificates_signed_total: 'counter',
      schoolgate_tls_leaf_cache_entries: 'gauge',
      schoolgate_reloads_total: 'counter',
      schoolgate_last_reload_successful: 'gauge',
      schoolgate_last_reload_success_timestamp_seconds: 'gauge',
      schoolgate_event_subscriber_errors_total: 'counter',
      // Node process metrics, for the usual Node.js dashboards.
      process_cpu_user_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) {
      expect(m.get(name)?.type, name).toBe(type);
      expect(m.get(name)!.help.length, name).toBeGreaterThan(20);
    }
    // The scrape's own connection is open while it is counted.
    expect(valueOf(m, 'schoolgate_open_connections')).toBeGreaterThanOrEqual(1);
    expect(valueOf(m, 'schoolgate_open_tunnels')).toBe(0);
    expect(valueOf(m, 'schoolgate_audit_queue_rows')).toBe(0);
    expect(valueOf(m, 'schoolgate_last_reload_successful')).toBe(1);
    expect(valueOf(m, 'schoolgate_last_reload_success_timestamp_seconds') * 1000).toBeLessThanOrEqual(
      Date.now(),
    );
  });

  it('is also reached by an absolute-form request naming the proxy itself', async () => {
    const res = await viaProxy(sg.address.port, `http://127.0.0.1:${sg.address.port}/metrics`);
    expect(res.status).toBe(200);
    expect(parseMetrics(res.body).has('schoolgate_requests_total')).toBe(true);
  });

  it('counts allowed and blocked requests exactly, with their categories, commit times and bytes', async () => {
    const before = await scrape();
    const allowBefore = requests(before, 'allow', 'request');
    const blockBefore = requests(before, 'block', 'request');
    const socialBefore = valueOf(before, 'schoolgate_category_decisions_total', {
      category: 'social',
      action: 'block',
    });
    const adultBefore = valueOf(before, 'schoolgate_category_decisions_total', {
      category: 'adult',
      action: 'block',
    });
    const commitsBefore = histogramOf(before, 'schoolgate_audit_commit_seconds').count;
    const outBefore = valueOf(before, 'schoolgate_client_bytes_total', { direction: 'out' });
    const inBefore = valueOf(before, 'schoolgate_client_bytes_total', { direction: 'in' });

    for (let i = 0; i < 3; i++) {
      // One upload among them: its body is what the audit row counts as bytes in.
      const upload = i === 0 ? { method: 'POST', body: 'u'.repeat(100) } : {};
      const res = await viaProxy(sg.address.port, `http://allowed.test:${origin.port}/page${i}`, upload);
      expect(res.status).toBe(200);
      expect(res.body).toBe(ORIGIN_BODY);
    }
    for (const host of ['social.test', 'social.test', 'blocked.example']) {
      const res = await viaProxy(sg.address.port, `http://${host}:${origin.port}/`);
      expect(res.status).toBe(403);
    }

    const after = await scrapeUntil(
      '3 allowed and 3 blocked requests',
      (m) =>
        requests(m, 'allow', 'request') >= allowBefore + 3 &&
        requests(m, 'block', 'request') >= blockBefore + 3,
    );
    expect(requests(after, 'allow', 'request')).toBe(allowBefore + 3);
    expect(requests(after, 'block', 'request')).toBe(blockBefore + 3);
    expect(
      valueOf(after, 'schoolgate_category_decisions_total', { category: 'social', action: 'block' }),
    ).toBe(socialBefore + 2);
    expect(
      valueOf(after, 'schoolgate_category_decisions_total', { category: 'adult', action: 'block' }),
    ).toBe(adultBefore + 1);
    // Every committed row is timed once; /metrics itself is no access to the web and records nothing.
    const commits = histogramOf(after, 'schoolgate_audit_commit_seconds');
    expect(commits.count).toBe(commitsBefore + 6);
    expect(commits.sum).toBeGreaterThan(0);

    // Outcomes arrive when each exchange finished (`completed`): the three origin bodies out, the upload in.
    const done = await scrapeUntil(
      'the bytes of three origin bodies',
      (m) =>
        valueOf(m, 'schoolgate_client_bytes_total', { direction: 'out' }) >=
        outBefore + 3 * ORIGIN_BODY.length,
    );
    expect(valueOf(done, 'schoolgate_client_bytes_total', { direction: 'in' })).toBe(inBefore + 100);
  });

  it('shows open tunnels and the certificate cache while HTTPS is inspected', async () => {
    const before = await scrape();
    const tunnelsBefore = requests(before, 'allow', 'tunnel');
    const misses = valueOf(before, 'schoolgate_tls_leaf_cache_misses_total');
    const hits = valueOf(before, 'schoolgate_tls_leaf_cache_hits_total');
    const signed = valueOf(before, 'schoolgate_tls_leaf_certificates_signed_total');

    const first = await inspectedTunnel(sg.address.port, 'allowed.test', origin.port);
    const open = await scrapeUntil(
      'the first tunnel',
      (m) => requests(m, 'allow', 'tunnel') >= tunnelsBefore + 1,
    );
    expect(requests(open, 'allow', 'tunnel')).toBe(tunnelsBefore + 1);
    expect(valueOf(open, 'schoolgate_open_tunnels')).toBe(1);
    expect(valueOf(open, 'schoolgate_open_connections')).toBeGreaterThanOrEqual(2); // the tunnel and the scrape
    expect(valueOf(open, 'schoolgate_tls_leaf_cache_misses_total')).toBe(misses + 1);
    expect(valueOf(open, 'schoolgate_tls_leaf_certificates_signed_total')).toBe(signed + 1);

    const second = await inspectedTunnel(sg.address.port, 'allowed.test', origin.port);
    const two = await scrapeUntil(
      'the second tunnel',
      (m) => requests(m, 'allow', 'tunnel') >= tunnelsBefore + 2,
    );
    expect(requests(two, 'allow', 'tunnel')).toBe(tunnelsBefore + 2);
    expect(valueOf(two, 'schoolgate_open_tunnels')).toBe(2);
    expect(valueOf(two, 'schoolgate_tls_leaf_cache_hits_total')).toBe(hits + 1);
    expect(valueOf(two, 'schoolgate_tls_leaf_cache_misses_total')).toBe(misses + 1);
    expect(valueOf(two, 'schoolgate_tls_leaf_cache_entries')).toBeGreaterThanOrEqual(1);

    await Promise.all([closed(first), closed(second)]);
    const after = await scrapeUntil('the tunnels closed', (m) => valueOf(m, 'schoolgate_open_tunnels') === 0);
    expect(valueOf(after, 'schoolgate_open_tunnels')).toBe(0);
  });

  it('records reloads, and a failed last reload', async () => {
    const yaml = path.join(categoriesDir, 'categories.yaml');
    const good = readFileSync(yaml, 'utf8');
    const before = await scrape();
    const ok = valueOf(before, 'schoolgate_reloads_total', { result: 'ok' });
    const failed = valueOf(before, 'schoolgate_reloads_total', { result: 'failed' });
    const started = Math.floor(Date.now() / 1000);

    await sg.reload();
    let m = await scrape();
    expect(valueOf(m, 'schoolgate_reloads_total', { result: 'ok' })).toBe(ok + 1);
    expect(valueOf(m, 'schoolgate_last_reload_successful')).toBe(1);
    const loadedAt = valueOf(m, 'schoolgate_last_reload_success_timestamp_seconds');
    expect(loadedAt).toBeGreaterThanOrEqual(started);

    writeFileSync(yaml, 'social: [unclosed\n');
    try {
      await expect(sg.reload()).rejects.toThrow(/reload failed/);
    } finally {
      writeFileSync(yaml, good);
    }
    m = await scrape();
    expect(valueOf(m, 'schoolgate_reloads_total', { result: 'failed' })).toBe(failed + 1);
    expect(valueOf(m, 'schoolgate_last_reload_successful')).toBe(0);
    // The lists in force are still the ones loaded by the last good reload.
    expect(valueOf(m, 'schoolgate_last_reload_success_timestamp_seconds')).toBe(loadedAt);

    await sg.reload();
    m = await scrape();
    expect(valueOf(m, 'schoolgate_reloads_total', { result: 'ok' })).toBe(ok + 2);
    expect(valueOf(m, 'schoolgate_last_reload_successful')).toBe(1);
  });

  it('a subscriber that throws fails no request and is counted', async () => {
    const before = await scrape();
    const errors = valueOf(before, 'schoolgate_event_subscriber_errors_total');
    const allowed = requests(before, 'allow', 'request');
    sg.proxy.events.on('committed', ({ row }) => {
      if (row.path === '/subscriber-bug') throw new Error('a broken subscriber');
    });
    const res = await viaProxy(sg.address.port, `http://allowed.test:${origin.port}/subscriber-bug`);
    expect(res.status).toBe(200);
    expect(res.body).toBe(ORIGIN_BODY);
    const after = await scrapeUntil(
      'the subscriber error',
      (m) => valueOf(m, 'schoolgate_event_subscriber_errors_total') >= errors + 1,
    );
    expect(valueOf(after, 'schoolgate_event_subscriber_errors_total')).toBe(errors + 1);
    expect(requests(after, 'allow', 'request')).toBe(allowed + 1);
  });

  it('answers 403 to a client outside admin.networks, and serves it the other own pages', async () => {
    const res = await get(outsider.address.port, '/metrics');
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).not.toContain('schoolgate_');
    expect((await get(outsider.address.port, '/healthz')).status).toBe(200);
    // Absolute-form to the proxy itself is the same page, and the same refusal.
    const proxied = await viaProxy(
      outsider.address.port,
      `http://127.0.0.1:${outsider.address.port}/metrics`,
    );
    expect(proxied.status).toBe(403);
  });
});
