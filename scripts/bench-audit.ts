/**
 * Audit write throughput and what it costs the proxy.
 *
 *   npx tsc -p tsconfig.build.json && node dist/scripts/bench-audit.js [--seconds 2] [--no-http]
 *     [--serving-only] [--baseline-dist DIR] [--clients 100] [--rounds 3]
 *
 * Table 1: rows committed per second, WAL + synchronous=FULL on the same disk:
 *   - baseline: one transaction per row (what the audit box must never do);
 *   - the store (group commit) with C clients, each awaiting its record() before issuing the next (what
 *     proxy connections do), and a burst of N records issued at once.
 * Table 0 (scripts/bench/audit-serving.ts): the serving writer thread under C clients, this build and, with
 *   --baseline-dist, another build's dist/ in alternating rounds: rows/s, record() wait, CPU µs per row.
 * Table 2: requests/s of a bare HTTP forwarder vs the same forwarder awaiting store.record() before it
 *   forwards (the writer on the main thread). Load generator and upstream run in a worker thread.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openSqliteAuditStore, type AuditEvent } from '../src/audit/index.js';
import { benchEvent } from './bench/audit-event.js';
import { servingRows } from './bench/audit-serving.js';
import { registerChainFunctions } from '../src/audit/chain.js';
import { registerLedgerFunctions } from '../src/audit/ledger.js';
import { migrate } from '../src/audit/migrations.js';
import { INSERT_SQL, eventToRow } from '../src/audit/row-mapping.js';

const event = benchEvent;

const pct = (sorted: number[], p: number): number =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);

interface Row {
  mode: string;
  rowsPerSec: number;
  rowsPerBatch: number;
  maxCommitMs: number;
  p99Ms: number;
}

function baseline(dir: string, seconds: number): Row {
  const db = new Database(join(dir, 'baseline.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  // The migrations create triggers that call these (the writer registers them on its own connection).
  registerChainFunctions(db);
  registerLedgerFunctions(db);
  migrate(db, 'baseline.db');
  const insert = db.prepare(INSERT_SQL);
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    const t = performance.now();
    insert.run(eventToRow(event())); // autocommit: one transaction, one fsync per row
    lat.push(performance.now() - t);
    n++;
  }
  db.close();
  lat.sort((a, b) => a - b);
  return {
    mode: 'baseline: 1 tx/row',
    rowsPerSec: n / seconds,
    rowsPerBatch: 1,
    maxCommitMs: lat.at(-1) ?? 0,
    p99Ms: pct(lat, 99),
  };
}

async function clients(dir: string, name: string, concurrency: number, seconds: number): Promise<Row> {
  const store = openSqliteAuditStore({ path: join(dir, `${name}.db`) });
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      await store.record(event());
      lat.push(performance.now() - t);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const s = store.stats;
  await store.close();
  lat.sort((a, b) => a - b);
  return {
    mode: `store, ${concurrency} client${concurrency === 1 ? '' : 's'}`,
    rowsPerSec: s.rowsCommitted / elapsed,
    rowsPerBatch: s.rowsCommitted / s.batches,
    maxCommitMs: s.maxCommitMs,
    p99Ms: pct(lat, 99),
  };
}

async function burst(dir: string, n: number): Promise<Row> {
  const store = openSqliteAuditStore({ path: join(dir, `burst-${n}.db`) });
  const started = performance.now();
  await Promise.all(Array.from({ length: n }, () => store.record(event())));
  const elapsed = performance.now() - started;
  const s = store.stats;
  await store.close();
  return {
    mode: `store, ${n} at once`,
    rowsPerSec: n / (elapsed / 1000),
    rowsPerBatch: s.rowsCommitted / s.batches,
    maxCommitMs: s.maxCommitMs,
    p99Ms: elapsed,
  };
}

// ---- Prototype: the same group commit with the writer in a worker_thread --------------------------------
// Only for the threading measurement: one batch in flight at a time; records arriving meanwhile form the
// next batch. Same SQL, same pragmas (WAL, synchronous=FULL) as the store.

function writerThreadMain(): void {
  const port = parentPort;
  if (!port) return;
  const db = new Database((workerData as { path: string }).path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  registerChainFunctions(db);
  registerLedgerFunctions(db);
  migrate(db, 'worker');
  const insert = db.prepare(INSERT_SQL);
  const tx = db.transaction((rows: ReturnType<typeof eventToRow>[]) => {
    for (const r of rows) insert.run(r);
  });
  port.on('message', (rows: ReturnType<typeof eventToRow>[] | 'stop') => {
    if (rows === 'stop') {
      db.close();
      port.close();
      return;
    }
    tx(rows);
    port.postMessage(rows.length);
  });
}

class WorkerWriterPrototype {
  private readonly worker: Worker;
  private queue: { row: ReturnType<typeof eventToRow>; resolve: () => void }[] = [];
  private inFlight: { resolve: () => void }[] | null = null;
  private scheduled = false;
  batches = 0;
  rows = 0;

  constructor(path: string) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { role: 'writer', path } });
    this.worker.on('message', () => {
      for (const p of this.inFlight ?? []) p.resolve();
      this.batches++;
      this.rows += this.inFlight?.length ?? 0;
      this.inFlight = null;
      this.flush();
    });
  }

  record(e: AuditEvent): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push({ row: eventToRow(e), resolve });
      if (!this.scheduled && this.inFlight === null) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    if (this.inFlight !== null || this.queue.length === 0) return;
    const batch = this.queue.splice(0, 1000);
    this.inFlight = batch;
    this.worker.postMessage(batch.map((b) => b.row));
  }

  async close(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight !== null) await new Promise((r) => setTimeout(r, 5));
    this.worker.postMessage('stop');
    await new Promise((r) => this.worker.once('exit', r));
  }
}

// ---- HTTP: bare forwarder vs audited forwarder ------------------------------------------------------------

interface LoadResult {
  requests: number;
  errors: number;
}

function workerMain(): void {
  const port = parentPort;
  if (!port) return;
  const body = Buffer.alloc(2048, 'x');
  const upstream = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  upstream.keepAliveTimeout = 60_000;
  upstream.listen(0, '127.0.0.1', () =>
    port.postMessage({ upstreamPort: (upstream.address() as AddressInfo).port }),
  );
  port.on('message', (msg: { proxyPort: number; concurrency: number; ms: number } | 'stop') => {
    if (msg === 'stop') {
      upstream.close();
      port.close();
      return;
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: msg.concurrency });
    const result: LoadResult = { requests: 0, errors: 0 };
    const end = performance.now() + msg.ms;
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const req = http.request(
          { host: '127.0.0.1', port: msg.proxyPort, path: 'http://upstream.test/page', agent },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) result.requests++;
              else result.errors++;
              resolve();
            });
          },
        );
        req.on('error', () => {
          result.errors++;
          resolve();
        });
        req.end();
      });
    const loop = async (): Promise<void> => {
      while (performance.now() < end) await one();
    };
    void Promise.all(Array.from({ length: msg.concurrency }, loop)).then(() => {
      agent.destroy();
      port.postMessage(result);
    });
  });
}

async function httpBench(
  dir: string,
  seconds: number,
  concurrency: number,
  rounds: number,
): Promise<string[][]> {
  const worker = new Worker(new URL(import.meta.url));
  const next = <T>(): Promise<T> => new Promise((resolve) => worker.once('message', resolve));
  const { upstreamPort } = await next<{ upstreamPort: number }>();
  const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: concurrency * 2 });
  const store = openSqliteAuditStore({ path: join(dir, 'http.db') });
  const threaded = new WorkerWriterPrototype(join(dir, 'http-worker.db'));

  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const up = http.request(
      { host: '127.0.0.1', port: upstreamPort, path: '/page', agent: upstreamAgent },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  };
  const variants: [string, http.RequestListener][] = [
    ['bare forwarder', forward],
    [
      'forwarder + audit (main thread)',
      (req, res) => {
        const e = event();
        const started = performance.now();
        store.record(e).then(
          () => {
            res.on('finish', () =>
              store.complete(e.id, {
                status: 200,
                bytesIn: 0,
                bytesOut: 2048,
                durationMs: performance.now() - started,
              }),
            );
            forward(req, res);
          },
          () => res.writeHead(503).end(),
        );
      },
    ],
    [
      'forwarder + audit (worker prototype)',
      (req, res) => {
        void threaded.record(event()).then(() => forward(req, res));
      },
    ],
  ];
  // The machine may be shared: alternate the variants (A B A B ...) and report medians.
  const samples = variants.map(() => ({ rps: [] as number[], lag: [] as number[], errors: 0 }));
  for (let round = 0; round < rounds; round++) {
    for (const [i, [, handler]] of variants.entries()) {
      const server = http.createServer(handler);
      server.keepAliveTimeout = 60_000;
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const lag = monitorEventLoopDelay({ resolution: 1 });
      lag.enable();
      worker.postMessage({
        proxyPort: (server.address() as AddressInfo).port,
        concurrency,
        ms: seconds * 1000,
      });
      const r = await next<LoadResult>();
      lag.disable();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      const sample = samples[i];
      sample?.rps.push(r.requests / seconds);
      sample?.lag.push(lag.percentile(99) / 1e6);
      if (sample) sample.errors += r.errors;
    }
  }
  const median = (xs: number[]): number =>
    pct(
      [...xs].sort((a, b) => a - b),
      50,
    );
  const results = variants.map(([name], i) => ({
    name,
    rps: median(samples[i]?.rps ?? []),
    all: samples[i]?.rps ?? [],
    errors: samples[i]?.errors ?? 0,
    lagP99: median(samples[i]?.lag ?? []),
  }));
  worker.postMessage('stop');
  upstreamAgent.destroy();
  const s = store.stats;
  await store.close();
  const w = { batches: threaded.batches, rows: threaded.rows };
  await threaded.close();
  const base = results[0]?.rps ?? 1;
  return [
    ...results.map((r) => [
      r.name,
      `${r.rps.toFixed(0)} (${r.all.map((x) => x.toFixed(0)).join(', ')})`,
      (r.rps / base).toFixed(2),
      r.lagP99.toFixed(2),
      String(r.errors),
    ]),
    [
      `(audited run: ${s.batches} batches, ${(s.rowsCommitted / Math.max(1, s.batches)).toFixed(1)} rows/batch, max commit ${s.maxCommitMs.toFixed(2)} ms;` +
        ` worker prototype: ${w.batches} batches, ${(w.rows / Math.max(1, w.batches)).toFixed(1)} rows/batch)`,
    ],
  ];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r.length > 1 ? (r[i] ?? '').length : 0))),
  );
  const line = (cells: string[]): string =>
    cells.length === 1
      ? (cells[0] ?? '')
      : `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const secIdx = args.indexOf('--seconds');
  const seconds = secIdx >= 0 ? Number(args[secIdx + 1]) : 2;
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-audit-'));
  const option = (name: string): string | undefined =>
    args.includes(name) ? args[args.indexOf(name) + 1] : undefined;
  try {
    const servingClients = Number(option('--clients') ?? 100);
    const rounds = Number(option('--rounds') ?? 3);
    const baselineDist = option('--baseline-dist');
    const serving = await servingRows(dir, {
      seconds,
      clients: servingClients,
      rounds,
      ...(baselineDist ? { baselineDist } : {}),
    });
    console.log(
      `Serving writer thread, ${servingClients} clients each awaiting record() then sending the outcome, ${rounds} alternating rounds of ${seconds}s (medians; ${serving.load})\n`,
    );
    console.log(
      table(
        [
          'build',
          'rows/s (each round)',
          'p50 wait ms',
          'p99 wait ms',
          'process CPU µs/row',
          'writer thread CPU µs/row',
        ],
        serving.rows,
      ),
    );
    if (args.includes('--serving-only')) return;
    console.log('');
    const base = baseline(dir, seconds);
    const rows: Row[] = [base];
    for (const c of [1, 10, 100, 1000]) rows.push(await clients(dir, `c${c}`, c, seconds));
    for (const n of [1000, 10_000, 100_000]) rows.push(await burst(dir, n));
    console.log(
      `Audit rows committed per second (WAL, synchronous=FULL, batchMaxRows=1000, ${seconds}s per run)\n`,
    );
    console.log(
      table(
        ['mode', 'rows/s', 'ratio', 'rows/batch', 'max commit ms', 'p99 record ms (burst: total ms)'],
        rows.map((r) => [
          r.mode,
          r.rowsPerSec.toFixed(0),
          `${(r.rowsPerSec / base.rowsPerSec).toFixed(1)}x`,
          r.rowsPerBatch.toFixed(1),
          r.maxCommitMs.toFixed(2),
          r.p99Ms.toFixed(2),
        ]),
      ),
    );
    if (!args.includes('--no-http')) {
      const concurrency = 50;
      console.log(
        `\nHTTP forwarder, ${concurrency} keep-alive clients, 5 alternating rounds of ${seconds}s (load + upstream in a worker)\n`,
      );
      console.log(
        table(
          ['proxy', 'req/s median (each round)', 'ratio', 'event-loop lag p99 ms', 'errors'],
          await httpBench(dir, seconds, concurrency, 5),
        ),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await main();
else if ((workerData as { role?: string } | null)?.role === 'writer') writerThreadMain();
else workerMain();
