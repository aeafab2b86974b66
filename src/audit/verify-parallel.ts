/**
 * `audit verify` on every core: the chain from genesis to the head is cut into ranges at rows that exist,
 * each range is walked by its own worker thread (verify-worker.ts → chain-walk.ts) from the hash recorded
 * in the row where it starts, and the ranges must join up: range k's last computed hash is the recorded
 * hash range k+1 started from. Nothing is skipped, so every break the one-thread walk finds is found, and
 * the first break reported is the one nearest genesis, as before.
 *
 * verifyAudit is synchronous (callers and tests rely on it), so this waits on a shared counter with
 * Atomics.wait (allowed on Node's main thread) and collects the replies with receiveMessageOnPort; the
 * workers write their progress into the same shared memory, read every second for the progress line.
 */
import os from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { workerScript } from '../worker-script.js';
import { GENESIS, type ChainHead, type ChainWalker } from './chain.js';
import { walkChain, type WalkResult } from './chain-walk.js';

export interface ParallelOptions {
  /** Worker threads; default the machine's cores. 1: no workers (the walk runs on the caller's thread). */
  threads?: number;
  /** Below this many rows per thread, starting workers costs more than it saves. */
  minRowsPerThread?: number;
  onProgress?: (rows: number) => void;
}

export interface Range {
  /** Starts after the row `lo` (0: genesis), from the hash recorded in it; ends at `hi` inclusive. */
  lo: number;
  hash: string;
  hi: number;
}

export interface VerifyJob extends Range {
  dbPath: string;
  index: number;
  /** Int32: [workers finished, rows checked by worker 0, 1, ...]. */
  sync: SharedArrayBuffer;
  port: MessagePort;
}

export type VerifyReply =
  { ok: true; result: WalkResult } | { ok: false; error: string; code: string | undefined };

/** Cuts (from.seq, headSeq] into about `n` ranges at rows that exist (a purged stretch has none to cut at). */
export function splitRanges(
  db: Database.Database,
  headSeq: number,
  n: number,
  from: ChainHead = GENESIS,
): Range[] {
  const at = db.prepare(
    `SELECT seq, chain_hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq DESC LIMIT 1`,
  );
  const ranges: Range[] = [{ lo: from.seq, hash: from.hash, hi: headSeq }];
  for (let i = 1; i < n; i++) {
    const prev = ranges[ranges.length - 1]!;
    const cut = at.get(prev.lo, from.seq + Math.floor(((headSeq - from.seq) * i) / n)) as
      { seq: number; chain_hash: string | null } | undefined;
    if (!cut || cut.seq >= headSeq) continue;
    prev.hi = cut.seq;
    ranges.push({ lo: cut.seq, hash: cut.chain_hash ?? '', hi: headSeq });
  }
  return ranges;
}

/**
 * Puts the ranges' results together in seq order: the first break wins; a range that does not start where
 * the one before it ended (the file changed under the check) is a break at the join.
 */
export function joinRanges(ranges: Range[], results: WalkResult[]): WalkResult {
  let rows = 0;
  let gaps = 0;
  let last: ChainHead = ranges[0] ? { seq: ranges[0].lo, hash: ranges[0].hash } : GENESIS;
  for (const [i, r] of results.entries()) {
    const range = ranges[i]!;
    if (i > 0 && (last.seq !== range.lo || last.hash !== range.hash))
      return {
        rows,
        gaps,
        last,
        firstBreak: {
          seq: range.lo,
          id: null,
          reason: `the chain does not join up at seq ${range.lo} (the rows changed while they were checked)`,
        },
      };
    rows += r.rows;
    gaps += r.gaps;
    last = r.last;
    if (r.firstBreak) return { rows, gaps, last, firstBreak: r.firstBreak };
  }
  return { rows, gaps, last, firstBreak: null };
}

function runWorkers(script: string, dbPath: string, ranges: Range[], opts: ParallelOptions): WalkResult {
  const sync = new SharedArrayBuffer(4 * (ranges.length + 1));
  const counters = new Int32Array(sync);
  const ports: MessagePort[] = [];
  const workers: Worker[] = [];
  try {
    for (const [index, range] of ranges.entries()) {
      const { port1, port2 } = new MessageChannel();
      ports.push(port1);
      const job: VerifyJob = { ...range, dbPath, index, sync, port: port2 };
      const worker = new Worker(script, { workerData: job, transferList: [port2] });
      worker.unref();
      workers.push(worker);
    }
    for (;;) {
      const finished = Atomics.load(counters, 0);
      if (finished >= ranges.length) break;
      Atomics.wait(counters, 0, finished, 1000);
      let rows = 0;
      for (let i = 1; i <= ranges.length; i++) rows += Atomics.load(counters, i);
      opts.onProgress?.(rows);
    }
    const results = ports.map((port, i) => {
      const reply = receiveMessageOnPort(port)?.message as VerifyReply | undefined;
      if (!reply) throw new Error(`verify worker ${i} finished without a reply`);
      if (!reply.ok) throw Object.assign(new Error(reply.error), { code: reply.code });
      return reply.result;
    });
    return joinRanges(ranges, results);
  } finally {
    for (const p of ports) p.close();
    for (const w of workers) void w.terminate();
  }
}

/**
 * A walker for verifyChain that checks ranges in parallel, or undefined where one thread is as good: one
 * core (or threads: 1), too few rows, or worker scripts not built (sources run under vitest unbuilt).
 */
export function parallelWalker(
  dbPath: string,
  db: Database.Database,
  opts: ParallelOptions = {},
): ChainWalker | undefined {
  const threads = Math.max(1, Math.trunc(opts.threads ?? os.availableParallelism()));
  const script = workerScript(import.meta.url, 'verify-worker.js');
  if (threads < 2 || !script.built) return undefined;
  const minRows = opts.minRowsPerThread ?? 250_000;
  return (head, from) => {
    const n = Math.min(threads, Math.floor((head.seq - from.seq) / minRows));
    const ranges = splitRanges(db, head.seq, Math.max(1, n), from);
    if (ranges.length === 1) return walkChain(db, from, head.seq, opts.onProgress);
    return runWorkers(script.path, dbPath, ranges, opts);
  };
}
