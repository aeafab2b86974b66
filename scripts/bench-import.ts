/**
 * `lists import` and reload at full size: imports every UT1 category in ../shared/data/ut1 (45 categories,
 * ~1 M lines) into the local layer of a temporary data directory above the shipped categories, then
 * measures loading those lists (time, heap) and reloading a running proxy that has them loaded.
 *
 *   npx tsc -p tsconfig.build.json && node --expose-gc dist/scripts/bench-import.js [ut1-dir]
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadPolicy, startSchoolgate } from '../src/app/start.js';
import { loadConfig } from '../src/config/load.js';
import { catalogue } from '../src/lists/catalogue.js';
import { newCategory } from '../src/lists/edit.js';
import { importList } from '../src/lists/import.js';

const ut1Dir = process.argv[2] ?? path.resolve(import.meta.dirname, '../../../shared/data/ut1');

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}
const rssMb = () => process.memoryUsage().rss / 1e6;

const dataDir = mkdtempSync(path.join(tmpdir(), 'schoolgate-bench-import-'));
const config = loadConfig(undefined, { dataDir, port: 0, host: '127.0.0.1' });
const dirs = { categoriesDir: config.categoriesDir, dataDir };
const names = readdirSync(ut1Dir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

const heapBefore = heapMb();
const known = await catalogue(dirs);
let lines = 0;
let added = 0;
let duplicate = 0;
let invalid = 0;
const slowest: { name: string; ms: number; lines: number }[] = [];
const t0 = performance.now();
for (const name of names) {
  if (!known.has(name))
    await newCategory(dirs, { name, title: name, description: 'UT1', flagged: false, alert: false });
  const t = performance.now();
  const s = await importList(dirs, name, path.join(ut1Dir, name), { format: 'squidguard' });
  slowest.push({ name, ms: performance.now() - t, lines: s.lines });
  lines += s.lines;
  added += s.added;
  duplicate += s.duplicate;
  invalid += s.invalid;
}
const importMs = performance.now() - t0;
const heapAfterImport = heapMb();

const t1 = performance.now();
let policy: Awaited<ReturnType<typeof loadPolicy>> | undefined = await loadPolicy(config);
const loadMs = performance.now() - t1;
const heapLoaded = heapMb();
const entries = policy.entries;
policy = undefined; // the proxy below loads its own copy

const running = await startSchoolgate(config, pino({ level: 'silent' }));
const heapRunning = heapMb();
const reloads: number[] = [];
// The proxy keeps serving during a reload; how long can one request wait behind the loader's work?
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  await running.reload();
  reloads.push(performance.now() - t);
}
delay.disable();
const heapAfterReloads = heapMb();
const rssPeak = rssMb();
await running.stop();
rmSync(dataDir, { recursive: true, force: true });

const sorted = [...reloads].sort((a, b) => a - b);
const f = (n: number, d = 0) => n.toFixed(d);
const rows: [string, string][] = [
  ['UT1 categories imported', `${names.length}`],
  ['source lines', `${lines}`],
  ['added / duplicate / invalid', `${added} / ${duplicate} / ${invalid}`],
  ['import time, all categories', `${f(importMs / 1000, 2)} s (${f(lines / (importMs / 1000))} lines/s)`],
  [
    'slowest imports',
    slowest
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 3)
      .map((s) => `${s.name} ${f(s.ms)} ms`)
      .join(', '),
  ],
  ['heap after import (gc)', `${f(heapAfterImport - heapBefore, 1)} MB above start (import keeps nothing)`],
  ['load shipped + local layer', `${f(loadMs)} ms, ${entries} entries`],
  ['heap with lists loaded (gc)', `${f(heapLoaded - heapBefore, 1)} MB above start`],
  ['heap, running proxy (gc)', `${f(heapRunning - heapBefore, 1)} MB above start`],
  [
    'reload, lists loaded (5 runs)',
    `median ${f(sorted[2]!)} ms, min ${f(sorted[0]!)} ms, max ${f(sorted[4]!)} ms`,
  ],
  [
    'event-loop delay during reloads',
    `p50 ${f(delay.percentile(50) / 1e6)} ms, p99 ${f(delay.percentile(99) / 1e6)} ms, max ${f(delay.max / 1e6)} ms`,
  ],
  [
    'heap after 5 reloads (gc)',
    `${f(heapAfterReloads - heapBefore, 1)} MB above start (old snapshots collected)`,
  ],
  ['RSS at end', `${f(rssPeak)} MB`],
];
const w = Math.max(...rows.map((r) => r[0].length));
console.log(`| ${'measure'.padEnd(w)} | value |\n|${'-'.repeat(w + 2)}|-------|`);
for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`);
console.log(`\nnode ${process.version}, ${process.platform}/${process.arch}; ${ut1Dir}`);
