/**
 * Monthly partitions of audit_events (UTC months of time_ms), made before a row needs one: the store makes
 * this month's and next month's at open and any other month a batch brings, so an insert never fails for
 * want of a partition. Retention (later) drops whole months instead of deleting rows.
 */
import type pg from 'pg';

/** 'audit_events_2026_12' and the month's [from, to) in epoch ms. */
export function monthOf(timeMs: number): { name: string; from: number; to: number } {
  const d = new Date(timeMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return {
    name: `audit_events_${y}_${String(m + 1).padStart(2, '0')}`,
    from: Date.UTC(y, m, 1),
    to: Date.UTC(y, m + 1, 1),
  };
}

/** Months already made (or found), so a batch in a known month costs nothing. */
export class Partitions {
  private readonly known = new Set<string>();

  /** Makes the partitions of every month the times fall in (a month at most once per process). */
  async ensure(client: pg.ClientBase, times: Iterable<number>): Promise<void> {
    const months = new Map<string, ReturnType<typeof monthOf>>();
    for (const t of times) {
      const m = monthOf(t);
      if (!this.known.has(m.name)) months.set(m.name, m);
    }
    for (const m of months.values()) {
      try {
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${m.name} PARTITION OF audit_events FOR VALUES FROM (${m.from}) TO (${m.to})`,
        );
      } catch (err) {
        // Another node made it between our IF NOT EXISTS and the create: it exists, which is what we wanted.
        if ((err as { code?: string }).code !== '42P07' && (err as { code?: string }).code !== '23505')
          throw err;
      }
      this.known.add(m.name);
    }
  }

  /** Forgets the months made, so the next batch makes its month again (one was dropped behind our back). */
  forget(): void {
    this.known.clear();
  }

  /** Every month from `fromMs` to `toMs` (store migrate: the whole span of a school's rows). */
  async ensureSpan(client: pg.ClientBase, fromMs: number, toMs: number): Promise<void> {
    const times: number[] = [];
    for (let t = monthOf(fromMs).from; t <= toMs; t = monthOf(t).to) times.push(t);
    await this.ensure(client, times);
  }
}
