/**
 * CPU time and memory of a whole process tree from /proc (Linux): a contender is often several processes
 * (Squid and its certificate helpers, e2guardian's children), so its cost is the sum over the tree.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks: the process's own time and its reaped children's. */
  ticks: number;
  /** Resident set size in pages. */
  rssPages: number;
}

/** Parses one /proc/<pid>/stat line. The command name (field 2) may hold spaces and parentheses. */
export function parseStat(line: string): ProcStat {
  const close = line.lastIndexOf(')');
  if (close < 0) throw new Error(`not a /proc stat line: ${line.slice(0, 80)}`);
  const pid = Number(line.slice(0, line.indexOf(' ')));
  // fields[0] is field 3 (state); field n is fields[n - 3].
  const fields = line
    .slice(close + 2)
    .trim()
    .split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  return {
    pid,
    ppid: field(4),
    ticks: field(14) + field(15) + field(16) + field(17),
    rssPages: field(24),
  };
}

/** Sums ticks and RSS over `root` and every descendant of it in `stats`. */
export function treeSum(
  stats: ProcStat[],
  root: number,
): { ticks: number; rssPages: number; processes: number } {
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const rootStat = stats.find((s) => s.pid === root);
  if (!rootStat) return { ticks: 0, rssPages: 0, processes: 0 };
  let ticks = 0;
  let rssPages = 0;
  let processes = 0;
  const todo = [rootStat];
  const seen = new Set<number>();
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s.pid)) continue;
    seen.add(s.pid);
    ticks += s.ticks;
    rssPages += s.rssPages;
    processes++;
    todo.push(...(children.get(s.pid) ?? []));
  }
  return { ticks, rssPages, processes };
}

/** Every process's stat now; processes that exit while being read are skipped. */
export function readAllStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      out.push(parseStat(readFileSync(`/proc/${name}/stat`, 'utf8')));
    } catch {
      // gone between readdir and read
    }
  }
  return out;
}

const getconf = (name: string) => Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
let units: { tick: number; page: number } | undefined;

/** CPU ms and RSS MB of the tree rooted at `pid`, now. */
export function treeUsage(pid: number): { cpuMs: number; rssMb: number; processes: number } {
  units ??= { tick: getconf('CLK_TCK'), page: getconf('PAGESIZE') };
  const sum = treeSum(readAllStats(), pid);
  return {
    cpuMs: (sum.ticks * 1000) / units.tick,
    rssMb: (sum.rssPages * units.page) / 1e6,
    processes: sum.processes,
  };
}
