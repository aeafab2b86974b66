/**
 * `schoolgate reload` as the CLI and the console's status page both run it: the running proxy reloads
 * through its control socket, and what a person let through is recorded in the admin-changes record with
 * who and why (a config edit it applied; a forced shrink of a list; from the console, the reload itself).
 */
import type { ReadonlyConfig } from '../config/load.js';
import { locationOf } from '../config/location.js';
import { withState } from '../state/store.js';
import { controlRequest } from './control.js';
import type { ReloadResult } from './reload.js';

export interface ReloadRequest {
  force?: boolean | undefined;
  reason?: string | undefined;
  by?: string | undefined;
  /** Record the reload even when it applied no config edit and forced nothing (the console's button). */
  recordAlways?: boolean;
}

/** Reloads the running proxy; a refused reload throws its SG error (the old lists keep serving). */
export async function reloadRunning(config: ReadonlyConfig, req: ReloadRequest): Promise<ReloadResult> {
  const r = await controlRequest<ReloadResult>(config.dataDir, 'reload', req.force ? { force: true } : {});
  const who = { reason: req.reason, by: req.by };
  await withState(config.dataDir, (s) =>
    s.transaction(() => {
      // Config is edited in a file, not through the CLI: the reload that applies an edit is what the
      // admin-changes record can see, with the settings that changed.
      if (r.changed.length > 0)
        s.changes.record({
          action: 'config.reload',
          target: locationOf(config).file ?? '(built-in defaults)',
          after: { changed: r.changed, restartNeeded: r.restartNeeded },
          ...who,
        });
      // A list that lost more than lists.maxShrinkShare was let through by a person: say who and why.
      if (r.forcedShrink.length > 0)
        s.changes.record({
          action: 'lists.reload.forced',
          target: r.forcedShrink.map((c) => c.category).join(', '),
          after: { shrank: r.forcedShrink },
          ...who,
        });
      if (req.recordAlways && r.changed.length === 0 && r.forcedShrink.length === 0)
        s.changes.record({
          action: 'reload',
          target: 'running proxy',
          after: { ms: r.ms, categories: r.categories, entries: r.entries, profiles: r.profiles },
          ...who,
        });
    }),
  );
  return r;
}
