/**
 * Policy lookup cost against list size: decide() with a 100-entry list (baseline) vs every UT1 category
 * in ../shared/data/ut1 (~1 million lines), on the same requests, in the same run.
 * The claim under test: a lookup costs O(labels of the host), so the ratio should stay near 1.
 * Each list is measured with decide()'s lookup fast paths off ("before", lookup-fast-path.ts) and on.
 *
 *   npx tsc -p tsconfig.build.json && node --expose-gc dist/scripts/bench-policy.js [ut1-dir]
 *
 * Note: the shared UT1 copy lacks adult/domains (~4.6 M lines, over the copy's size limit), so the big
 * list here is all other categories together; load time and heap scale roughly linearly with lines.
 */
import os from 'node:os';
import path from 'node:path';
import { loadCategories } from '../src/lists/load.js';
import { decide } from '../src/policy/decide.js';
import { compileLists } from '../src/policy/lists.js';
import { lookupFastPath } from '../src/policy/lookup-fast-path.js';
import { parseAbsoluteTarget } from '../src/policy/target.js';
import type { CategoryLists, PolicyRequest, Profile } from '../src/policy/types.js';

const ut1Dir = process.argv[2] ?? path.resolve(import.meta.dirname, '../../../shared/data/ut1');
const NOW = new Date('2025-01-06T10:00:00Z');
const RUN_MS = 1500;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function heapMb(): number {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function lookupsPerSecond(requests: PolicyRequest[], profile: Profile, lists: CategoryLists): number {
  // Warm up so the JIT has compiled decide() before timing.
  for (let i = 0; i < 20_000; i++)
    decide(requests[i % requests.length] as PolicyRequest, profile, lists, NOW);
  let n = 0;
  let blocked = 0;
  // CPU time (user + system) of this process, not wall time: the machine is shared with other work.
  const start = cpuSeconds();
  while (cpuSeconds() - start < RUN_MS / 1000) {
    for (let i = 0; i < 1000; i++, n++) {
      if (decide(requests[n % requests.length] as PolicyRequest, profile, lists, NOW).action === 'block')
        blocked++;
    }
  }
  const seconds = cpuSeconds() - start;
  if (blocked === -1) console.log(blocked); // keeps the result live so the calls cannot be optimised away
  return n / seconds;
}

async function main(): Promise<void> {
  const heapBefore = heapMb();
  const t0 = performance.now();
  const big = await loadCategories(ut1Dir, { metaDefaults: true });
  const loadMs = performance.now() - t0;
  const heapAfter = heapMb();
  let lines = 0;
  for (const c of big.counts.values()) lines += c.domains + c.urls;

  const listed = await firstDomains(
    ut1Dir,
    ['gambling', 'games', 'shopping', 'malware', 'social_networks'],
    200,
  );
  const smallEntries = listed.slice(0, 100);
  const toRequests = (hosts: string[]): PolicyRequest[] =>
    hosts.map((h) => ({ target: parseAbsoluteTarget(`http://${h}/some/path?q=1`), method: 'GET' }));
  // Hits: subdomains of the 100 baseline entries, which are in the big list too (4-6 labels each).
  const hits = toRequests(smallEntries.map((d) => `a.b.${d}`));
  // Misses: names in no list, 5 labels.
  const misses = toRequests(Array.from({ length: 1000 }, (_, i) => `cdn${i}.static.site${i}.example.org`));
  // Mixed: half of them listed somewhere in the big list (not all in the baseline).
  const mixed = [...toRequests(listed.map((d) => `www.${d}`)), ...misses];
  const small = compileLists({
    meta: [{ name: 'small', title: 'Small', description: '100 entries', flagged: false, alert: false }],
    domains: new Map([['small', smallEntries]]),
    urls: new Map(),
    endpoints: big.lists.endpoints,
  });
  const blockAll = (lists: CategoryLists): Profile => ({
    name: 'bench',
    description: 'blocks every category',
    defaultAction: 'allow',
    categories: Object.fromEntries([...lists.categories.keys()].map((c) => [c, 'block'])),
    allow: ['allowed.example'],
    deny: ['denied.example'],
    ipLiterals: 'block',
    timeWindows: [],
    timeZone: 'Europe/London',
  });

  const row = (cols: string[]): string => `| ${cols.join(' | ')} |`;
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-GB');
  console.log(
    `Node ${process.version}; big list: UT1, all ${big.counts.size} categories, ${fmt(lines)} valid lines; ${RUN_MS} CPU ms per cell (lookups per CPU second); load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
  console.log(
    row([
      'requests',
      '100 entries, before',
      '100 entries',
      'UT1 full, before',
      'UT1 full',
      'UT1: after / before',
      'UT1 / 100 entries',
    ]),
  );
  console.log(row(['---', '---:', '---:', '---:', '---:', '---:', '---:']));
  const measure = (requests: PolicyRequest[], lists: CategoryLists, fast: boolean): number => {
    lookupFastPath.enabled = fast;
    try {
      return lookupsPerSecond(requests, blockAll(lists), lists);
    } finally {
      lookupFastPath.enabled = true;
    }
  };
  for (const [name, requests] of [
    [`misses (${misses.length} names in no list)`, misses],
    [`hits (${hits.length} subdomains of the baseline entries)`, hits],
    [`mixed (${mixed.length}: ${listed.length} listed + ${misses.length} unlisted)`, mixed],
  ] as const) {
    const smallBefore = measure([...requests], small, false);
    const smallAfter = measure([...requests], small, true);
    const fullBefore = measure([...requests], big.lists, false);
    const fullAfter = measure([...requests], big.lists, true);
    console.log(
      row([
        name,
        fmt(smallBefore),
        fmt(smallAfter),
        fmt(fullBefore),
        fmt(fullAfter),
        (fullAfter / fullBefore).toFixed(2),
        (fullAfter / smallAfter).toFixed(2),
      ]),
    );
  }
  console.log('');
  console.log(row(['big list', 'value']));
  console.log(row(['---', '---:']));
  console.log(row(['load time (read + parse + index)', `${fmt(loadMs)} ms`]));
  console.log(row(['load rate', `${fmt(lines / (loadMs / 1000))} lines/s`]));
  console.log(
    row([
      'heap used by the loaded lists',
      `${fmt(heapAfter - heapBefore)} MB${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for an exact figure)'}`,
    ]),
  );
  console.log(row(['warnings (invalid lines etc.)', String(big.warnings.length)]));
}

/** The first `perCategory` plain domains of each category, read straight from the files. */
async function firstDomains(dir: string, cats: string[], perCategory: number): Promise<string[]> {
  const { readFile } = await import('node:fs/promises');
  const out: string[] = [];
  for (const cat of cats) {
    const text = await readFile(path.join(dir, cat, 'domains'), 'utf8');
    out.push(
      ...text
        .split('\n')
        .filter((l) => /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(l) && !/^\d+\.\d+\.\d+\.\d+$/.test(l))
        .slice(0, perCategory),
    );
  }
  return out;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
