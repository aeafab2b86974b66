/**
 * The school of the trust a case's or a hold's subjects belong to, for site-scoped console accounts
 * (site-scope.ts). A user: their users row's site (else, with no row, their latest audit row's, as
 * siteOfPerson). A device (by name) or an address: the device's own site, else its network's, from the
 * config file's and the CLI's networks and devices merged as the proxy merges them (identify.ts). A
 * subject nobody gave a site is no site's: outside every scoped account (fail closed); the trust-wide
 * accounts see all. Checked before a case, a hold or its records are read or changed, not in the page.
 */
import type { CaseSubject } from '../audit/case-subjects.js';
import { requireCase, type CaseRecord } from '../audit/cases.js';
import type { Hold } from '../audit/holds.js';
import { addressMap } from '../identity/identify.js';
import { withState } from '../state/store.js';
import { withAudit, type ConsoleContext } from './context.js';
import type { Session } from './sessions.js';
import { latestSitesOf } from './site-scope.js';

export type SiteOf = (subject: CaseSubject) => string | null;

/**
 * Runs fn with a lookup of `subjects`' sites over one state connection (networks and devices read once).
 * The users with no users row are placed by their latest audit row first, in the configured store (on
 * PostgreSQL every node's rows).
 */
async function withSubjectSites<T>(
  ctx: ConsoleContext,
  subjects: readonly CaseSubject[],
  fn: (siteOf: SiteOf) => T,
): Promise<T> {
  return withState(ctx.config.dataDir, async (s) => {
    const unlisted = subjects.filter((x) => x.kind === 'user' && !s.users.get(x.value)).map((x) => x.value);
    const latest = unlisted.length > 0 ? await latestSitesOf(ctx, unlisted) : new Map<string, null>();
    const extra = { devices: s.addresses.devices(), networks: s.addresses.networks() };
    const map = addressMap(ctx.config, extra);
    const devices = [...ctx.config.identity.devices, ...extra.devices];
    const ofAddress = (address: string) => map.device(address)?.site ?? map.network(address)?.site ?? null;
    return fn((subject) => {
      if (subject.kind === 'user') {
        const user = s.users.get(subject.value);
        return user ? user.site : (latest.get(subject.value) ?? null);
      }
      if (subject.kind === 'address') return ofAddress(subject.value);
      const device = devices.find((d) => d.name === subject.value);
      return device ? (device.site ?? ofAddress(device.address)) : null;
    });
  });
}

/** Every subject is of `site` (and there is at least one). */
function allOf(siteOf: SiteOf, subjects: readonly CaseSubject[], site: string): boolean {
  return subjects.length > 0 && subjects.every((s) => siteOf(s) === site);
}

/** True when a site-scoped account may not see or change records about these subjects. */
export async function subjectsOutsideSite(
  ctx: ConsoleContext,
  session: Session,
  subjects: readonly CaseSubject[],
): Promise<boolean> {
  const site = session.site;
  if (site === null) return false;
  return !(await withSubjectSites(ctx, subjects, (siteOf) => allOf(siteOf, subjects, site)));
}

/** The cases an account may see: a site-scoped one only those whose every subject is of its site. */
export async function casesOfSite(
  ctx: ConsoleContext,
  session: Session,
  cases: CaseRecord[],
): Promise<CaseRecord[]> {
  const site = session.site;
  if (site === null) return cases;
  return withSubjectSites(
    ctx,
    cases.flatMap((c) => c.subjects),
    (siteOf) => cases.filter((c) => allOf(siteOf, c.subjects, site)),
  );
}

/** The holds an account may see: a site-scoped one only those on its site's subjects. */
export async function holdsOfSite(ctx: ConsoleContext, session: Session, holds: Hold[]): Promise<Hold[]> {
  const site = session.site;
  if (site === null) return holds;
  return withSubjectSites(ctx, holds, (siteOf) => holds.filter((h) => siteOf(h) === site));
}

/**
 * The case, when it is another site's for a site-scoped account (the caller refuses: refuseOtherSite);
 * null when the account may see it. Not a reply: an async function cannot hand back Fastify's thenable one.
 */
export async function otherSiteCase(
  ctx: ConsoleContext,
  session: Session,
  ref: string,
): Promise<CaseRecord | null> {
  if (session.site === null) return null;
  const c = withAudit(ctx, (db) => requireCase(db, ref));
  return (await subjectsOutsideSite(ctx, session, c.subjects)) ? c : null;
}
