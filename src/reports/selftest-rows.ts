/**
 * The audit rows of `schoolgate selftest` probes (selftest_run set, schema 7), for `selftest --history`:
 * the one place they are shown, since every report leaves them out (source.ts).
 */
import type Database from 'better-sqlite3';

export interface ProbeRow {
  time: string;
  action: string;
  host: string;
  path: string | null;
  categories: string[];
  status: number | null;
}

export interface ProbeRun {
  run: string;
  first: string;
  last: string;
  rows: ProbeRow[];
}

interface Raw {
  selftest_run: string;
  time_ms: number;
  action: string;
  host: string;
  path: string | null;
  categories: string;
  status: number | null;
}

/** Runs oldest first, each with its rows in time order. A database older than schema 7 has none. */
export function probeRuns(db: Database.Database): ProbeRun[] {
  const columns = db.prepare(`SELECT name FROM pragma_table_info('audit_events')`).pluck().all();
  if (!columns.includes('selftest_run')) return [];
  const rows = db
    .prepare(
      `SELECT selftest_run, time_ms, action, host, path, categories, status FROM audit_events
       WHERE selftest_run IS NOT NULL ORDER BY time_ms, rowid`,
    )
    .all() as Raw[];
  const runs = new Map<string, ProbeRun>();
  for (const r of rows) {
    const time = new Date(r.time_ms).toISOString();
    let run = runs.get(r.selftest_run);
    if (!run) runs.set(r.selftest_run, (run = { run: r.selftest_run, first: time, last: time, rows: [] }));
    run.last = time;
    run.rows.push({
      time,
      action: r.action,
      host: r.host,
      path: r.path,
      categories: JSON.parse(r.categories) as string[],
      status: r.status,
    });
  }
  return [...runs.values()];
}
