/**
 * The audit store on SQLite against PostgreSQL, in one run on the same disk (issue 18): rows committed per
 * second and the commit latency a caller sees (record() called → resolved, which is after COMMIT), p50/p99,
 * with C callers each awaiting its record() before the next (as proxy connections do). PostgreSQL is a
 * private cluster (scripts/pg-cluster.ts), fsync and synchronous_commit on, on a loopback TCP port.
 *
 *   npx tsc -p tsconfig.build.json && node dist/scripts/bench-store.js [--rows 4000] [--clients 1,16,64]
 *   node dist/scripts/bench-store.js --migrate /path/to/audit.sqlite    # store migrate's rows/s instead
 *     [--url postgres://… --pgdata /its/data/dir --node NAME]           # into an existing cluster, kept
 *
 * After the store table: two serve nodes' combined req/s against one (bench/serve-nodes.ts; needs
 * npm run build; --requests 3000 --load-clients 16, --serve-nodes 0 to leave it out).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { migrateSqliteToPostgres } from '../src/audit/postgres/migrate-from-sqlite.js';
import { PostgresAuditStore } from '../src/audit/postgres/store.js';
import { SqliteAuditStore } from '../src/audit/sqlite-store.js';
import type { AuditStore } from '../src/audit/types.js';
import { benchEvent } from './bench/audit-event.js';
import { treeUsage } from './bench/proc.js';
import { benchServeNodes } from './bench/serve-nodes.js';
import { startPgCluster } from './pg-cluster.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const event = benchEvent;

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/**
 * `rows` records from `clients` callers, each awaiting its record() before the next. CPU: this process (the
 * SQLite writer is a thread of it) and, given `serverCpu`, the database server's; per row it survives a busy
 * machine where rows/s does not.
 */
async function load(store: AuditStore, rows: number, clients: number, serverCpu?: () => number) {
  const latencies: number[] = [];
  let left = rows;
  const cpu0 = process.cpuUsage();
  const server0 = serverCpu?.() ?? 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (left-- > 0) {
        const t = performance.now();
        await store.record(event());
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const clientUs = (cpu.user + cpu.system) / rows;
  const serverUs = serverCpu ? ((serverCpu() - server0) * 1000) / rows : 0;
  latencies.sort((a, b) => a - b);
  return {
    rowsPerSec: Math.round(rows / seconds),
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    cpuUsPerRow: clientUs + serverUs,
  };
}

async function compare(): Promise<void> {
  const rows = Number(arg('rows', '4000'));
  // --clients none: only the serve nodes' comparison.
  const clientCounts = arg('clients', '1,16,64')
    .split(',')
    .map(Number)
    .filter((c) => c > 0);
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-store-'));
  const cluster = await startPgCluster();
  try {
    console.log(`${rows} rows per run; latency = record() call to resolution (after COMMIT), ms`);
    console.log('CPU µs/row = this process + the PostgreSQL server (its postmaster tree)');
    console.log('store       clients  rows/s   p50 ms  p99 ms  CPU µs/row  CPU vs sqlite');
    for (const clients of clientCounts) {
      const runs: [string, () => Promise<AuditStore>][] = [
        ['sqlite', async () => new SqliteAuditStore({ path: path.join(dir, `audit-${clients}.sqlite`) })],
        [
          'postgresql',
          () => PostgresAuditStore.open({ connectionString: cluster.url, node: `bench-${clients}` }),
        ],
      ];
      let baseline = NaN;
      for (const [name, open] of runs) {
        const store = await open();
        await load(store, Math.min(200, rows), clients); // warm-up: statements prepared, pages cached
        const server = name === 'postgresql' ? () => serverCpuMs(path.join(cluster.dir, 'data')) : undefined;
        const r = await load(store, rows, clients, server);
        await store.close();
        if (name === 'sqlite') baseline = r.cpuUsPerRow;
        console.log(
          `${name.padEnd(11)} ${String(clients).padStart(7)}  ${String(r.rowsPerSec).padStart(6)}  ${r.p50.toFixed(2).padStart(6)}  ${r.p99.toFixed(2).padStart(6)}  ${r.cpuUsPerRow.toFixed(0).padStart(10)}  ${(r.cpuUsPerRow / baseline).toFixed(2).padStart(11)}×`,
        );
      }
    }
    if (arg('serve-nodes', '1') !== '0')
      await benchServeNodes(
        dir,
        await cluster.createDatabase('serve_nodes'),
        Number(arg('requests', '3000')),
        Number(arg('load-clients', '16')),
      );
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A PostgreSQL server's CPU ms: its postmaster's process tree, with the backends it has reaped. */
const serverCpuMs = (dataDir: string) =>
  treeUsage(Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])).cpuMs;

/** store migrate's rows/s, wall and CPU (this process and the server); --url/--pgdata: an existing cluster. */
async function migrate(file: string): Promise<void> {
  const url = arg('url', '');
  const cluster = url ? null : await startPgCluster();
  const dataDir = url ? arg('pgdata', '') : path.join(cluster!.dir, 'data');
  try {
    console.log(
      `load average before: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')}`,
    );
    const cpu0 = process.cpuUsage();
    const server0 = dataDir ? serverCpuMs(dataDir) : 0;
    const t0 = performance.now();
    const r = await migrateSqliteToPostgres({
      sqlitePath: file,
      target: { connectionString: url || cluster!.url },
      node: arg('node', 'bench'),
    });
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const server = dataDir ? (serverCpuMs(dataDir) - server0) / 1000 : NaN;
    const node = (cpu.user + cpu.system) / 1e6;
    console.log(
      `store migrate: ${r.rows} rows in ${r.copySeconds.toFixed(1)} s = ${r.rowsPerSecond} rows/s (copy); ` +
        `verified after: ${r.after.ok}, head seq ${r.after.head.seq}\n` +
        `whole run (verify before, copy, verify after): wall ${wall.toFixed(1)} s, CPU this process ` +
        `${node.toFixed(1)} s + PostgreSQL server ${server.toFixed(1)} s = ${(node + server).toFixed(1)} s ` +
        `(${Math.round(r.rows / (node + server))} rows per CPU-second)`,
    );
    console.log(
      `load average after: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')}`,
    );
  } finally {
    await cluster?.stop();
  }
}

const file = arg('migrate', '');
await (file ? migrate(file) : compare());
