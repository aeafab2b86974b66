/**
 * Roles scoped to one school of a trust (src/identity/site.ts): a console account with a site sees only that
 * site's alerts, reviews and people; one without (the trust's DSL) sees all and may pick a site. Enforced in
 * the queries (the report source's site, the alerts query's site), not by hiding rows in the page. Asking for
 * another site's person is refused and the refusal recorded, like a role refusal (access.ts).
 */
import type Database from 'better-sqlite3';
import type { FastifyReply } from 'fastify';
import { SITE_NAME } from '../identity/site.js';
import { html } from '../proxy/pages/html.js';

import { withState } from '../state/store.js';
import { roleRefusalEntry } from './access.js';
import { message } from './pages/layout.js';
import { recordRefusal, sendPage, viewerOf, withAudit, type ConsoleContext } from './context.js';
import type { Session } from './sessions.js';

/** The site a look is limited to: the account's own, else the one it picked (?site=), else none (all). */
export function siteOfLook(session: Session, requested: unknown): string | undefined {
  if (session.site !== null) return session.site;
  return typeof requested === 'string' && SITE_NAME.test(requested) ? requested : undefined;
}

/**
 * The site a person belongs to: their users row's, else the site of their latest audit row (directory
 * people without a row); null when neither says (such a person belongs to no one site).
 */
export async function siteOfPerson(ctx: ConsoleContext, user: string): Promise<string | null> {
  const row = await withState(ctx.config.dataDir, (s) => s.users.get(user));
  if (row) return row.site;
  return latestSiteOf(ctx, user);
}

/** latestSite in the configured store: on PostgreSQL over every node's rows (the SQLite file is not the record). */
export async function latestSiteOf(ctx: ConsoleContext, user: string): Promise<string | null> {
  return (await latestSitesOf(ctx, [user])).get(user) ?? null;
}

/** latestSiteOf for several people, over one connection. */
export async function latestSitesOf(
  ctx: ConsoleContext,
  users: readonly string[],
): Promise<Map<string, string | null>> {
  if (ctx.config.store === 'sqlite')
    return withAudit(ctx, (db) => new Map(users.map((u) => [u, latestSite(db, u)])));
  const { openPgReportStore } = await import('../audit/postgres/report-reads.js');
  const store = await openPgReportStore(ctx.config);
  try {
    return await store.latestSites([...new Set(users)]);
  } finally {
    await store.close();
  }
}

export function latestSite(db: Database.Database, user: string): string | null {
  const site = db
    .prepare(`SELECT site FROM audit_events WHERE username = ? ORDER BY time_ms DESC LIMIT 1`)
    .pluck()
    .get(user) as string | null | undefined;
  return site ?? null;
}

/** True when a site-scoped account may not see this person (another site's, or no site's). */
export async function outsideSite(ctx: ConsoleContext, session: Session, user: string): Promise<boolean> {
  return session.site !== null && (await siteOfPerson(ctx, user)) !== session.site;
}

/**
 * The refusal of another site's person or alert: recorded in the store's report_access (PostgreSQL's on
 * store: { postgres }), then a 403 page; SG_AUDIT_UNAVAILABLE, and no page, if it cannot be recorded.
 */
export async function refuseOtherSite(
  ctx: ConsoleContext,
  session: Session,
  reply: FastifyReply,
  command: string,
  subject: string | null,
) {
  const reason = `the account sees the ${session.site ?? '?'} site only; this is another site's (SG_CONSOLE_FORBIDDEN)`;
  await recordRefusal(ctx, roleRefusalEntry(session, command, subject, ctx.now(), reason));
  return sendPage(
    reply,
    403,
    'Not your site',
    html`${message(`Your account sees the ${session.site ?? ''} site only. The refusal is recorded.`)}
      <p class="note">Code SG_CONSOLE_FORBIDDEN. The trust's DSL or headteacher sees every site.</p>`,
    viewerOf(session, reply),
  );
}

/** The sites the state database knows (networks, devices, users), for the trust-wide accounts' selector. */
export async function knownSites(ctx: ConsoleContext): Promise<string[]> {
  return withState(ctx.config.dataDir, (s) =>
    s.db
      .prepare(
        `SELECT site FROM networks WHERE site IS NOT NULL UNION SELECT site FROM devices WHERE site IS NOT NULL
         UNION SELECT site FROM users WHERE site IS NOT NULL ORDER BY 1`,
      )
      .pluck()
      .all(),
  ) as Promise<string[]>;
}

/** The selector of a page a trust-wide account reads (none for a scoped one: its site is fixed). */
export function siteSelector(session: Session, sites: readonly string[], chosen: string | undefined) {
  if (session.site !== null)
    return html`<p class="note">Site: ${session.site} (your account sees this site only)</p>`;
  if (sites.length === 0) return html``;
  return html`<label for="site">Site</label>
    <select id="site" name="site">
      <option value="">All sites</option>
      ${sites.map((s) => html`<option value="${s}" ${s === chosen ? 'selected' : ''}>${s}</option>`)}
    </select>`;
}
