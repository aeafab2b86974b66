/**
 * Lists at scale, the way the proxy loads them (issue 13, Build item 4): the loader on a worker thread
 * from the list files every time (loadCategoriesOffThread without a snapshot, as before the snapshot)
 * against the same loader with the index snapshot (src/lists/snapshot-file.ts) as start and reload use
 * now: a cold start (no snapshot on disk: built from the text, snapshot written) and a warm one (the
 * snapshot the cold cell wrote is read), in one run, on UT1 and on synthetic lists (scripts/gen-big-list.ts).
 * The reloads of the snapshot cells find the list files unchanged, so they read the snapshot. Each cell
 * runs in a fresh child process so memory figures do not mix:
 *
 * - start: the first load, wall ms and CPU ms (the whole process: every thread, GC included);
 * - RSS added by the first load (after a full GC), and after each of 5 reloads beyond the RSS just before
 *   them (nothing kept?);
 * - the event-loop stall while a reload runs and a loopback HTTP server, answering with lists.match(),
 *   is driven by a keep-alive client back to back: the longest gap between two answers, and
 *   monitorEventLoopDelay's maximum;
 * - lookups/s per CPU second of lists.match() for hosts in the lists (a subdomain of an entry) and not.
 *
 * Two more cells measure a reload after a technician's local list edit (a `lists add` and a `lists remove`
 * in the local layer before every load): "rebuilt" deletes the snapshot first, so each load builds from the
 * text as every local edit did before the snapshot held only the big layers; "overlay" reads the snapshot
 * of the shipped lists and applies the local layer over it (src/lists/local-overlay.ts).
 *
 *   npm run build && node --expose-gc dist/scripts/bench-reload.js [--ut1 dir] [--big dir ...]
 *     [--snapshot-only] [--local-edit-only]
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { flag, numberOption } from './args.js';
import { childOrMain, cpuMs, fmt, gc, runTable } from './bench-list-sets.js';
import { generateNames } from './gen-big-list.js';
import type { LoadedCategories } from '../src/lists/load.js';
import { listsWorkerBuilt, loadCategoriesOffThread } from '../src/lists/load-off-thread.js';
import { readLocalLayer } from '../src/lists/local-layer.js';
import { parseAbsoluteTarget } from '../src/policy/target.js';
import type { CategoryLists, Target } from '../src/policy/types.js';

const RELOADS = 5;
/** The snapshot folder the parent made for this run (the cold cell writes it, the warm cell reads it). */
const SNAPSHOT_ENV = 'SG_BENCH_SNAPSHOT_DIR';
const snapshotDir = () => process.env[SNAPSHOT_ENV]!;
const BEFORE = 'from the text (before)';
const COLD = 'snapshot: cold start';
const WARM = 'snapshot: warm start';
const EDIT_REBUILT = 'local edit, reload: rebuilt (before)';
const EDIT_OVERLAY = 'local edit, reload: overlay';
const localOnly = flag('local-edit-only');
// --snapshot-only: the two snapshot cells (a 5 M list from the text six times takes many minutes).
const MODES: Record<string, (dir: string) => Promise<LoadedCategories>> = {
  ...(flag('snapshot-only') || localOnly
    ? {}
    : { [BEFORE]: (dir: string) => loadCategoriesOffThread(dir, { metaDefaults: true }) }),
  ...(localOnly
    ? {}
    : {
        [COLD]: (dir: string) =>
          loadCategoriesOffThread(dir, { metaDefaults: true, snapshotDir: snapshotDir() }),
        [WARM]: (dir: string) =>
          loadCategoriesOffThread(dir, { metaDefaults: true, snapshotDir: snapshotDir() }),
      }),
  [EDIT_REBUILT]: (dir) => afterLocalEdit(dir, true),
  [EDIT_OVERLAY]: (dir) => afterLocalEdit(dir, false),
};

let edits = 0;
/**
 * A technician's edit, then the load a reload does: one domain added to the first category and one of its
 * shipped domains un-listed, in a local layer beside the snapshot folder. `rebuild`: the snapshot deleted
 * first (what any local edit cost before: a changed key, the whole index built from the text).
 */
async function afterLocalEdit(dir: string, rebuild: boolean): Promise<LoadedCategories> {
  const dataDir = path.dirname(snapshotDir());
  const category = readdirSync(dir, { withFileTypes: true }).find((e) => e.isDirectory())!.name;
  const localDir = path.join(dataDir, 'categories.local', category);
  mkdirSync(localDir, { recursive: true });
  edits++;
  writeFileSync(path.join(localDir, 'domains'), `added-${edits}.example\n`);
  writeFileSync(path.join(localDir, 'removed'), `${(await firstDomains(dir, category, edits))[edits - 1]}\n`);
  if (rebuild) rmSync(snapshotDir(), { recursive: true, force: true });
  const local = await readLocalLayer(dataDir);
  return loadCategoriesOffThread(dir, { metaDefaults: true, local, snapshotDir: snapshotDir() });
}

interface Cell {
  entries: number;
  /** How the start and the reloads got their index: snapshot 'read', 'written', or 'none'. */
  sources: string[];
  rssAfterStartMb: number;
  rssBeforeReloadsMb: number;
  rssAfterReloadsMb: number;
  startWallMs: number;
  startCpuMs: number;
  reloadWallMs: number;
  reloadCpuMs: number;
  rssMb: number;
  keptRssMb: number[];
  longestGapMs: number;
  answersDuringReload: number;
  loopDelayMaxMs: number;
  hitPerS: number;
  missPerS: number;
}

function rssMb(): number {
  gc();
  return process.memoryUsage().rss / 1e6;
}

function lookupsPerCpuSecond(lists: CategoryLists, targets: Target[], n: number): number {
  for (let i = 0; i < 50_000; i++) lists.match(targets[i % targets.length]!); // warm the JIT
  const start = cpuMs();
  for (let i = 0; i < n; i++) lists.match(targets[i % targets.length]!);
  return n / ((cpuMs() - start) / 1000);
}

/** Hosts under entries of the lists: the first domains of each category file, with `www.a.` in front. */
function hitTargets(lists: CategoryLists, sample: string[]): Target[] {
  const targets = sample.map((h) => parseAbsoluteTarget(`http://www.a.${h}/some/path?q=1`));
  const hits = targets.filter((t) => lists.match(t).length > 0);
  if (hits.length < targets.length / 2) throw new Error('the sample hosts do not match the lists');
  return hits;
}

/**
 * A loopback server answering with the lists in force and one keep-alive client asking back to back, while
 * `during` runs: the longest gap between two answers and how many there were.
 */
async function servedDuring(
  current: () => CategoryLists,
  target: Target,
  during: () => Promise<void>,
): Promise<{ longestGapMs: number; answers: number; loopDelayMaxMs: number }> {
  const server = http.createServer((_req, res) => res.end(String(current().match(target).length)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const port = (server.address() as AddressInfo).port;
  const ask = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  await ask();
  let done = false;
  let longest = 0;
  let answers = 0;
  const client = (async () => {
    let last = performance.now();
    while (!done) {
      await ask();
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      answers++;
    }
  })();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await during();
  delay.disable();
  done = true;
  await client;
  agent.destroy();
  server.close();
  return { longestGapMs: longest, answers, loopDelayMaxMs: delay.max / 1e6 };
}

async function child(mode: string, dir: string, lookups: number): Promise<Cell> {
  const load = MODES[mode]!;
  // Each set's cold cell starts from no snapshot; the warm cell after it reads what the cold one wrote.
  if (mode === COLD || mode === EDIT_REBUILT) rmSync(snapshotDir(), { recursive: true, force: true });
  const sources: string[] = [];
  const before = rssMb();
  const c0 = cpuMs();
  const w0 = performance.now();
  let loaded: LoadedCategories | undefined = await load(dir);
  const startCpuMs = cpuMs() - c0;
  const startWallMs = performance.now() - w0;
  let lists = loaded.lists;
  sources.push(loaded.snapshot ?? 'none');
  let entries = 0;
  for (const c of loaded.counts.values()) entries += c.domains + c.urls;
  loaded = undefined;
  const first = rssMb();

  const sample: string[] = [];
  const names: string[] = [];
  generateNames(2000, 987_654, (name) => names.push(`cdn.${name.replace(/\.[^.]+$/, '')}.example.invalid`));
  const missTargets = names.map((n) => parseAbsoluteTarget(`http://${n}/some/path?q=1`));
  for (const cat of lists.categories.keys()) sample.push(...(await firstDomains(dir, cat, 200)));
  const hits = hitTargets(lists, sample);
  const hitPerS = lookupsPerCpuSecond(lists, hits, lookups);
  const missPerS = lookupsPerCpuSecond(lists, missTargets, lookups);

  // Reloads: each a new copy loaded while requests are answered, then swapped in, the old one dropped.
  // What they keep is measured from just before them (the lookups above grow the heap on their own).
  const beforeReloads = rssMb();
  const keptRssMb: number[] = [];
  let reloadWallMs = 0;
  let reloadCpuMs = 0;
  let served = { longestGapMs: 0, answers: 0, loopDelayMaxMs: 0 };
  for (let r = 0; r < RELOADS; r++) {
    const during = async () => {
      const c = cpuMs();
      const w = performance.now();
      const reloaded = await load(dir);
      lists = reloaded.lists;
      sources.push(reloaded.snapshot ?? 'none');
      reloadCpuMs = cpuMs() - c;
      reloadWallMs = performance.now() - w;
    };
    // The first reload is the one measured while serving; the others only for what they keep.
    if (r === 0) served = await servedDuring(() => lists, hits[0]!, during);
    else await during();
    keptRssMb.push(rssMb() - beforeReloads);
  }
  if (lists.match(hits[0]!).length === 0) throw new Error('the reloaded lists lost an entry');
  return {
    entries,
    sources,
    rssAfterStartMb: first,
    rssBeforeReloadsMb: beforeReloads,
    rssAfterReloadsMb: beforeReloads + keptRssMb[keptRssMb.length - 1]!,
    startWallMs,
    startCpuMs,
    reloadWallMs,
    reloadCpuMs,
    rssMb: first - before,
    keptRssMb,
    longestGapMs: served.longestGapMs,
    answersDuringReload: served.answers,
    loopDelayMaxMs: served.loopDelayMaxMs,
    hitPerS,
    missPerS,
  };
}

/** The first `n` plain domain lines of a category's domains file (or its first chunk). */
async function firstDomains(dir: string, category: string, n: number): Promise<string[]> {
  const { readFile, readdir } = await import('node:fs/promises');
  const files = (await readdir(path.join(dir, category))).filter((f) => /^domains(\.0)?$/.test(f));
  if (files.length === 0) return [];
  const text = await readFile(path.join(dir, category, files[0]!), 'utf8');
  return text
    .split('\n', 5 * n)
    .map((l) => l.trim())
    .filter((l) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$/.test(l))
    .slice(0, n);
}

function main(): void {
  if (!listsWorkerBuilt()) throw new Error('build first: npm run build');
  const lookups = numberOption('lookups', 1_000_000);
  const snapshots = mkdtempSync(path.join(tmpdir(), 'sg-bench-snapshot-'));
  process.env[SNAPSHOT_ENV] = path.join(snapshots, 'lists-index');
  const cells = runTable<Cell>(
    [
      'lists',
      'index',
      'entries',
      'index from (start, reloads)',
      'start wall / CPU ms',
      'reload wall / CPU ms',
      'RSS added MB',
      `RSS after reload 1-${RELOADS} beyond the RSS before them MB`,
      `RSS after start / before reloads / after ${RELOADS} reloads MB`,
      'longest gap between answers during a reload ms (answers)',
      'event-loop delay max during a reload ms',
      'hit lookups/s (CPU)',
      'miss lookups/s (CPU)',
    ],
    Object.keys(MODES),
    lookups,
    (c) => [
      fmt(c.entries),
      `${c.sources[0]}, ${[...new Set(c.sources.slice(1))].join('/')}`,
      `${fmt(c.startWallMs)} / ${fmt(c.startCpuMs)}`,
      `${fmt(c.reloadWallMs)} / ${fmt(c.reloadCpuMs)}`,
      fmt(c.rssMb, 1),
      c.keptRssMb.map((m) => fmt(m, 0)).join(', '),
      `${fmt(c.rssAfterStartMb)} / ${fmt(c.rssBeforeReloadsMb)} / ${fmt(c.rssAfterReloadsMb)}`,
      `${fmt(c.longestGapMs)} (${fmt(c.answersDuringReload)})`,
      fmt(c.loopDelayMaxMs),
      fmt(c.hitPerS),
      fmt(c.missPerS),
    ],
  );
  rmSync(snapshots, { recursive: true, force: true });
  printRatios(cells);
}

/** Under the table: what the snapshot changed, as ratios to loading from the text (below 1: better). */
function printRatios(cells: Map<string, Map<string, Cell>>): void {
  const ratio = (a: number, b: number) => `${fmt(a / b, 2)}×`;
  for (const [set, byKind] of cells) {
    const rebuilt = byKind.get(EDIT_REBUILT)!;
    const overlay = byKind.get(EDIT_OVERLAY)!;
    console.log(
      `${set}: reload after a local list edit, overlay / rebuilt ${ratio(overlay.reloadWallMs, rebuilt.reloadWallMs)} wall, ` +
        `${ratio(overlay.reloadCpuMs, rebuilt.reloadCpuMs)} CPU (${fmt(overlay.reloadWallMs)} / ${fmt(overlay.reloadCpuMs)} ms ` +
        `against ${fmt(rebuilt.reloadWallMs)} / ${fmt(rebuilt.reloadCpuMs)} ms)`,
    );
    if (localOnly) continue;
    const cold = byKind.get(COLD)!;
    const warm = byKind.get(WARM)!;
    const before = byKind.get(BEFORE);
    const kept = (c: Cell) => c.rssAfterReloadsMb - c.rssBeforeReloadsMb;
    const startRatio = `${set}: start warm / cold ${ratio(warm.startWallMs, cold.startWallMs)} wall, ${ratio(warm.startCpuMs, cold.startCpuMs)} CPU`;
    if (!before) {
      console.log(`${startRatio} (--snapshot-only: no cell from the text to compare reloads with)`);
      continue;
    }
    console.log(
      `${startRatio}; warm / from the text ${ratio(warm.startWallMs, before.startWallMs)}; ` +
        `reload (snapshot read) / from the text ${ratio(warm.reloadWallMs, before.reloadWallMs)} wall, ` +
        `${ratio(warm.reloadCpuMs, before.reloadCpuMs)} CPU; ` +
        `RSS added at start ${ratio(warm.rssMb, before.rssMb)}; ` +
        `RSS kept after ${RELOADS} reloads ${fmt(kept(warm))} MB (warm) vs ${fmt(kept(before))} MB (from the text)`,
    );
  }
}

childOrMain(child, main);
