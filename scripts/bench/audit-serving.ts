/**
 * The serving writer (WorkerAuditStore: the writer thread the proxy uses) under C clients that each await
 * record() and then send the outcome, as proxy connections do. With `--baseline-dist DIR` (the dist/ of
 * another build, e.g. a `git worktree` of main built with tsc) both builds run in alternating rounds on the
 * same machine, in one run, and the table gives medians. CPU comes from /proc: the whole process, and the
 * writer thread alone (the busiest thread besides the main one).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WorkerAuditStore } from '../../src/audit/index.js';
import type { AuditEvent, AuditOutcome } from '../../src/audit/types.js';
import { benchEvent } from './audit-event.js';

interface Serving {
  record(e: AuditEvent): Promise<void>;
  complete(id: string, o: AuditOutcome): void;
  close(): Promise<void>;
}
type Open = (path: string) => Promise<Serving>;

const TICK_US = 10_000; // USER_HZ 100 on Linux

/** utime + stime of each thread of this process, µs. */
function threadCpu(): Map<string, number> {
  const cpu = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu.set(tid, (Number(fields[11]) + Number(fields[12])) * TICK_US);
    } catch {
      // the thread ended meanwhile
    }
  }
  return cpu;
}

interface Sample {
  rowsPerSec: number;
  p50: number;
  p99: number;
  processUs: number;
  writerUs: number;
}

async function runOnce(open: Open, path: string, clients: number, seconds: number): Promise<Sample> {
  const store = await open(path);
  const lat: number[] = [];
  const before = threadCpu();
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const end = started + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const e = benchEvent();
      const t = performance.now();
      await store.record(e);
      lat.push(performance.now() - t);
      store.complete(e.id, { status: 200, bytesIn: 300, bytesOut: 2048, durationMs: 3 });
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const after = threadCpu();
  await store.close();
  let writer = 0;
  for (const [tid, us] of after)
    if (tid !== String(process.pid)) writer = Math.max(writer, us - (before.get(tid) ?? 0));
  lat.sort((a, b) => a - b);
  const at = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return {
    rowsPerSec: lat.length / elapsed,
    p50: at(0.5),
    p99: at(0.99),
    processUs: (cpu.user + cpu.system) / lat.length,
    writerUs: writer / lat.length,
  };
}

const openCurrent: Open = (path) => WorkerAuditStore.open({ path, batchMaxRows: 1000 });

async function openFrom(dist: string): Promise<Open> {
  const url = pathToFileURL(join(resolve(dist), 'src/audit/index.js')).href;
  const mod = (await import(url)) as { WorkerAuditStore: typeof WorkerAuditStore };
  return (path) => mod.WorkerAuditStore.open({ path, batchMaxRows: 1000 });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Rows of the comparison table: one per build, medians over the rounds (each round's rows/s in brackets). */
export async function servingRows(
  dir: string,
  opts: { seconds: number; clients: number; rounds: number; baselineDist?: string },
): Promise<{ load: string; rows: string[][] }> {
  const builds: [string, Open][] = [];
  if (opts.baselineDist) builds.push([`baseline (${opts.baselineDist})`, await openFrom(opts.baselineDist)]);
  builds.push(['this build', openCurrent]);
  const samples = builds.map((): Sample[] => []);
  const load0 = loadavg()[0]!;
  for (let round = 0; round < opts.rounds; round++)
    for (const [i, [, open]] of builds.entries())
      samples[i]!.push(
        await runOnce(open, join(dir, `serving-${round}-${i}.db`), opts.clients, opts.seconds),
      );
  const load1 = loadavg()[0]!;
  const rows = builds.map(([name], i) => {
    const s = samples[i]!;
    const m = (f: (x: Sample) => number) => median(s.map(f));
    return [
      name,
      `${m((x) => x.rowsPerSec).toFixed(0)} (${s.map((x) => x.rowsPerSec.toFixed(0)).join(', ')})`,
      m((x) => x.p50).toFixed(2),
      m((x) => x.p99).toFixed(2),
      m((x) => x.processUs).toFixed(1),
      m((x) => x.writerUs).toFixed(1),
    ];
  });
  return { load: `load average (1 min) ${load0.toFixed(2)} at start, ${load1.toFixed(2)} at end`, rows };
}
