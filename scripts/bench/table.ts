/**
 * The bench's one table: for each workload and contender the medians over rounds, each figure followed by
 * its ratio to Squid's and to the bare forwarder's figure for the same workload.
 */
import type { LoadResult } from './wrk.js';

/** One run of one contender on one workload: the load result plus the proxy tree's usage over it. */
export interface Sample extends LoadResult {
  cpuMs: number;
  rssMb: number;
}

export interface Measure {
  rps: number;
  p50ms: number;
  p99ms: number;
  rssMb: number;
  cpuMsPerReq: number;
  errors: number;
  rounds: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Medians over rounds; errors summed. A round that completed no request counts as no CPU figure. */
export function summarise(samples: Sample[]): Measure {
  const done = samples.filter((s) => s.requests > 0);
  return {
    rps: median(samples.map((s) => s.requests / s.seconds)),
    p50ms: median(done.map((s) => s.p50ms)),
    p99ms: median(done.map((s) => s.p99ms)),
    rssMb: median(samples.map((s) => s.rssMb)),
    cpuMsPerReq: done.length ? median(done.map((s) => s.cpuMs / s.requests)) : Number.NaN,
    errors: samples.reduce((a, s) => a + s.errors, 0),
    rounds: samples.length,
  };
}

export interface WorkloadRows {
  workload: string;
  /** The contender the "× Squid" ratio divides by (plain Squid for HTTP, ssl-bump for inspected HTTPS). */
  squid: string;
  bare: string;
  /** undefined: the contender cannot do this workload or is not installed. */
  rows: { contender: string; measure: Measure | undefined; note?: string }[];
}

type Figure = 'rps' | 'p50ms' | 'p99ms' | 'rssMb' | 'cpuMsPerReq';
const FIGURES: { key: Figure; title: string }[] = [
  { key: 'rps', title: 'req/s' },
  { key: 'p50ms', title: 'p50 ms' },
  { key: 'p99ms', title: 'p99 ms' },
  { key: 'rssMb', title: 'RSS MB' },
  { key: 'cpuMsPerReq', title: 'CPU ms/req' },
];

/** A number with about three significant figures. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toFixed(3);
}

/** "value (a× Squid, b× bare)" with a dash where there is no reference figure. */
export function cell(value: number, squid: number | undefined, bare: number | undefined): string {
  const ratio = (ref: number | undefined) =>
    ref === undefined || !Number.isFinite(ref) || ref === 0 || !Number.isFinite(value)
      ? '–'
      : `${(value / ref).toFixed(2)}×`;
  return `${formatNumber(value)} (${ratio(squid)} / ${ratio(bare)})`;
}

export function formatTable(workloads: WorkloadRows[]): string {
  const head = `| work | proxy | ${FIGURES.map((f) => f.title).join(' | ')} | errors | rounds |`;
  const rule = `|---|---|${FIGURES.map(() => '---:').join('|')}|---:|---:|`;
  const lines = [head, rule];
  for (const w of workloads) {
    const ref = (name: string) => w.rows.find((r) => r.contender === name)?.measure;
    const squid = ref(w.squid);
    const bare = ref(w.bare);
    for (const r of w.rows) {
      const m = r.measure;
      const cells = m
        ? [
            ...FIGURES.map((f) => cell(m[f.key], squid?.[f.key], bare?.[f.key])),
            String(m.errors),
            String(m.rounds),
          ]
        : [...FIGURES.map(() => '–'), '–', '0'];
      const name = r.note ? `${r.contender} (${r.note})` : r.contender;
      lines.push(`| ${w.workload} | ${name} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}
