/**
 * Lists at scale (issue 13, Build item 4): the typed-array list index against the Map-based one it
 * replaced (scripts/map-list-index.ts), in one run, on UT1 (../shared/data/ut1, ~1 M lines) and on
 * synthetic lists (scripts/gen-big-list.ts). Each cell runs in a fresh child process so heap and RSS
 * figures do not mix. The machine is shared, so costs are CPU time (user + system of the process, GC
 * threads included), not wall time:
 *
 * - load: read + parse + index every line (the same reader and parser for both indexes), CPU ms;
 * - memory: heap used, off-heap (ArrayBuffers) and RSS after a full GC, minus the same before the load;
 * - reloads: the lists loaded again 3 times, each copy dropped for the next: what is held beyond one copy;
 * - lookups/s per CPU second of index.match() for hosts in the list (a subdomain of an entry) and not.
 *
 *   npm run build && node --expose-gc dist/scripts/bench-lists.js [--ut1 dir] [--big dir ...] [--lookups n]
 *   (generate the synthetic lists first: node dist/scripts/gen-big-list.js --out /tmp/big5m)
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { numberOption } from './args.js';
import { childOrMain, cpuMs, fmt, gc, runTable } from './bench-list-sets.js';
import { MapListIndex } from './map-list-index.js';
import { generateNames } from './gen-big-list.js';
import { forEachLine } from '../src/lists/read-lines.js';
import { parseDomainLine, parseUrlLine } from '../src/policy/entries.js';
import { ListIndex } from '../src/policy/list-index.js';
import { lookupFastPath } from '../src/policy/lookup-fast-path.js';
import { parseAbsoluteTarget } from '../src/policy/target.js';
import type { ListMatch, Target } from '../src/policy/types.js';

interface Index {
  addDomain(host: string, list: string): void;
  addIp(host: string, list: string): void;
  addUrl(host: string, path: string, list: string, hostIsIp?: boolean): void;
  match(target: Target): ListMatch[];
}

/** Reloads after the first load, before the memory still held is read. */
const RELOADS = 3;

const INDEXES: Record<string, () => Index> = {
  map: () => new MapListIndex(),
  'typed, fast path off': () => new ListIndex(),
  typed: () => new ListIndex(),
};

interface Cell {
  lines: number;
  hosts: number | null;
  loadCpuMs: number;
  loadWallMs: number;
  heapMb: number;
  offHeapMb: number;
  rssMb: number;
  keptHeapMb: number;
  keptOffHeapMb: number;
  /** RSS beyond the first load's after each reload (allocator pages kept, or a leak if it keeps growing). */
  keptRssMb: number[];
  hitPerS: number;
  missPerS: number;
  hitRate: number;
}

function memory(): { heap: number; offHeap: number; rss: number } {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / 1e6, offHeap: m.arrayBuffers / 1e6, rss: m.rss / 1e6 };
}

/** Category directories (real ones; UT1's alias symlinks skipped) with their domains/urls files. */
function categories(dir: string): { name: string; domains: string[]; urls: string[] }[] {
  const files = (cat: string, base: string) =>
    readdirSync(path.join(dir, cat))
      .filter((f) => f === base || new RegExp(`^${base}\\.\\d+$`).test(f))
      .sort()
      .map((f) => path.join(dir, cat, f));
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'keywords')
    .map((e) => ({ name: e.name, domains: files(e.name, 'domains'), urls: files(e.name, 'urls') }))
    .filter((c) => c.domains.length + c.urls.length > 0);
}

async function load(dir: string, index: Index, sample: string[]): Promise<number> {
  let lines = 0;
  for (const cat of categories(dir)) {
    let taken = 0;
    await forEachLine(cat.domains, (line) => {
      const p = parseDomainLine(line);
      if (p.kind === 'domain') {
        index.addDomain(p.host, cat.name);
        if (taken++ < 200) sample.push(p.host);
      } else if (p.kind === 'ip') index.addIp(p.host, cat.name);
      else return;
      lines++;
    });
    await forEachLine(cat.urls, (line) => {
      const p = parseUrlLine(line);
      if (p.kind !== 'url') return;
      index.addUrl(p.host, p.path, cat.name, p.hostKind !== 'domain');
      lines++;
    });
  }
  return lines;
}

function lookupsPerCpuSecond(index: Index, targets: Target[], n: number): { perS: number; hits: number } {
  let hits = 0;
  for (let i = 0; i < 50_000; i++) index.match(targets[i % targets.length]!); // warm the JIT
  const start = cpuMs();
  for (let i = 0; i < n; i++) if (index.match(targets[i % targets.length]!).length > 0) hits++;
  return { perS: n / ((cpuMs() - start) / 1000), hits };
}

async function child(kind: string, dir: string, lookups: number): Promise<Cell> {
  // The lookups' fast paths (lookup-fast-path.ts) off: the before-figure of the same index in the same run.
  lookupFastPath.enabled = !kind.endsWith('fast path off');
  const before = memory();
  const sample: string[] = [];
  const c0 = cpuMs();
  const w0 = performance.now();
  let index: Index = INDEXES[kind]!();
  const lines = await load(dir, index, sample);
  if (index instanceof ListIndex) index.compact();
  const loadCpuMs = cpuMs() - c0;
  const loadWallMs = performance.now() - w0;
  const loaded = memory();
  const hosts = index instanceof ListIndex ? index.footprint().hosts : null;

  const toTargets = (hosts: string[]) => hosts.map((h) => parseAbsoluteTarget(`http://${h}/some/path?q=1`));
  const hitTargets = toTargets(sample.map((h) => `www.a.${h}`));
  const missNames: string[] = [];
  generateNames(2000, 987_654, (name) =>
    missNames.push(`cdn.${name.replace(/\.[^.]+$/, '')}.example.invalid`),
  );
  const missTargets = toTargets(missNames);
  const hit = lookupsPerCpuSecond(index, hitTargets, lookups);
  const miss = lookupsPerCpuSecond(index, missTargets, lookups);
  if (miss.hits !== 0) throw new Error(`a miss name matched (${miss.hits})`);

  // Reloads: each a new copy loaded beside the current one, then the current one dropped, as a reload
  // swaps snapshots. What is still held after the last, beyond one copy, is what reloads leak.
  const rssAfterReload: number[] = [];
  let reloaded = loaded;
  for (let r = 0; r < RELOADS; r++) {
    const next = INDEXES[kind]!();
    await load(dir, next, []);
    if (next instanceof ListIndex) next.compact();
    index = next;
    reloaded = memory();
    rssAfterReload.push(reloaded.rss - loaded.rss);
  }
  if (index.match(hitTargets[0]!).length === 0) throw new Error('the reloaded index lost an entry');
  return {
    lines,
    hosts,
    loadCpuMs,
    loadWallMs,
    heapMb: loaded.heap - before.heap,
    offHeapMb: loaded.offHeap - before.offHeap,
    rssMb: loaded.rss - before.rss,
    keptHeapMb: reloaded.heap - loaded.heap,
    keptOffHeapMb: reloaded.offHeap - loaded.offHeap,
    keptRssMb: rssAfterReload,
    hitPerS: hit.perS,
    missPerS: miss.perS,
    hitRate: hit.hits / lookups,
  };
}

function main(): void {
  const lookups = numberOption('lookups', 2_000_000);
  runTable<Cell>(
    [
      'lists',
      'index',
      'entries (lines)',
      'distinct hosts',
      'load CPU ms',
      'load wall ms',
      'heap Δ MB',
      'off-heap Δ MB',
      'RSS Δ MB',
      'MB per 1 M entries (heap+off-heap)',
      'held after 3 reloads beyond one copy: heap / off-heap MB; RSS after reload 1, 2, 3 MB',
      'hit lookups/s (CPU)',
      'miss lookups/s (CPU)',
    ],
    Object.keys(INDEXES),
    lookups,
    (c) => [
      fmt(c.lines),
      c.hosts === null ? '–' : fmt(c.hosts),
      fmt(c.loadCpuMs),
      fmt(c.loadWallMs),
      fmt(c.heapMb, 1),
      fmt(c.offHeapMb, 1),
      fmt(c.rssMb, 1),
      fmt(((c.heapMb + c.offHeapMb) * 1e6) / c.lines, 1),
      `${fmt(c.keptHeapMb, 1)} / ${fmt(c.keptOffHeapMb, 1)}; ${c.keptRssMb.map((m) => fmt(m, 0)).join(', ')}`,
      `${fmt(c.hitPerS)} (${fmt(c.hitRate * 100)} % hit)`,
      fmt(c.missPerS),
    ],
  );
}

childOrMain(child, main);
