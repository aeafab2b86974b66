/**
 * Where a console review reads and where its look is recorded, whichever store config.store names. On
 * SQLite: the audit file, the look recorded there (access.ts). On PostgreSQL: the store's AuditReads, so a
 * trust's DSL sees every node's rows, the look recorded first in PostgreSQL's report_access and refused
 * when it cannot be (nothing is read unrecorded).
 */
import { openSource, sourceOn } from '../reports/run.js';
import { withinSite } from '../reports/site-scope.js';
import type { ReportSource } from '../reports/source.js';
import { authoriseLook, authoriseLookWith, type Look, type Looker } from './access.js';
import { withAudit, type ConsoleContext } from './context.js';

export interface OpenedReview {
  src: ReportSource;
  close(): Promise<void>;
}

/** Checks and records the look in the store the review reads, then opens that store (limited to `site`). */
export async function lookThenOpen(
  ctx: ConsoleContext,
  who: Looker,
  look: Look,
  now: number,
  site: string | undefined,
): Promise<OpenedReview> {
  const { config } = ctx;
  if (config.store === 'sqlite') {
    withAudit(ctx, (db) => authoriseLook(db, config, who, look, now));
    const src = withinSite(await openSource(config, now), site, config.dataDir);
    return {
      src,
      close: async () => {
        src.db.close();
      },
    };
  }
  const { openPgReportStore } = await import('../audit/postgres/report-reads.js');
  const store = await openPgReportStore(config);
  try {
    // The case is where `case open` keeps it on this store (read before deciding, which is sync).
    const ref = look.caseRef ?? null;
    const underCase = ref ? ((await store.cases.get(ref)) ?? null) : null;
    await authoriseLookWith(store.recorder, (r) => (r === ref ? underCase : null), config, who, look, now);
    const src = withinSite(await sourceOn(config, store.reads, now), site, config.dataDir);
    return { src, close: () => store.close() };
  } catch (err) {
    await store.close();
    throw err;
  }
}
