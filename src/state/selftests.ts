/** Recorded `schoolgate selftest --record` runs: the DfE standards ask schools to record filtering checks. */
import { osUser } from './changes.js';
import type { StateDatabase } from './database.js';

export interface SelftestRun {
  id: number;
  at: string;
  osUser: string;
  by: string | null;
  passed: number;
  failed: number;
  result: unknown;
}

interface Row {
  id: number;
  at: number;
  os_user: string;
  by_name: string | null;
  passed: number;
  failed: number;
  result_json: string;
}

export class SelftestLog {
  constructor(private readonly db: StateDatabase) {}

  record(
    run: { passed: number; failed: number; result: unknown; by?: string | undefined },
    at = Date.now(),
  ): number {
    return Number(
      this.db
        .prepare(
          'INSERT INTO selftest_runs (at, os_user, by_name, passed, failed, result_json) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(at, osUser(), run.by ?? null, run.passed, run.failed, JSON.stringify(run.result))
        .lastInsertRowid,
    );
  }

  list(): SelftestRun[] {
    return (this.db.prepare('SELECT * FROM selftest_runs ORDER BY at, id').all() as Row[]).map((r) => ({
      id: r.id,
      at: new Date(r.at).toISOString(),
      osUser: r.os_user,
      by: r.by_name,
      passed: r.passed,
      failed: r.failed,
      result: JSON.parse(r.result_json) as unknown,
    }));
  }
}
