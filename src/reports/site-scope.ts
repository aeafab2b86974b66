/**
 * A report source narrowed to one school of a trust (src/identity/site.ts): the audit queries add the site
 * themselves (source.ts sitedRows, alertsIn, uncategorisedHosts); the unblock requests of the state
 * database carry no site, so they are kept only for users of that site (a guest's request has no user and
 * belongs to no site's review).
 */
import { existsSync } from 'node:fs';
import { openStateDatabase, stateDbPath } from '../state/database.js';
import type { ReportSource } from './source.js';

export function withinSite<S extends ReportSource>(src: S, site: string | undefined, dataDir: string): S {
  if (site === undefined) return src;
  const all = src.unblockRequests;
  return {
    ...src,
    site,
    ...(all
      ? {
          unblockRequests: (fromMs: number, toMs: number) => {
            const ofSite = usersOfSite(dataDir, site);
            return all(fromMs, toMs).filter((r) => r.user !== null && ofSite.has(r.user));
          },
        }
      : {}),
  };
}

/** The users whose site is `site`, from the state database (read-only). */
export function usersOfSite(dataDir: string, site: string): Set<string> {
  if (!existsSync(stateDbPath(dataDir))) return new Set();
  const db = openStateDatabase(dataDir, { readonly: true });
  try {
    const columns = db.prepare(`SELECT name FROM pragma_table_info('users')`).pluck().all() as string[];
    if (!columns.includes('site')) return new Set();
    return new Set(db.prepare('SELECT name FROM users WHERE site = ?').pluck().all(site) as string[]);
  } finally {
    db.close();
  }
}
