/**
 * Schools within a trust: a site is a short name (`north`, `st-marys`) set on networks, devices, users and
 * console accounts. A request's site is the most personal one known: the user's, else the device's, else
 * the network's; none of them set (a single school) leaves it null.
 */
import { SchoolgateError } from '../errors.js';

export const SITE_NAME = /^[a-z0-9-]{1,32}$/;

/** The site name as given, or SG_ARGUMENT_INVALID; `where` names the option in the message. */
export function checkSiteName(site: string, where = '--site'): string {
  if (!SITE_NAME.test(site))
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `${where}: "${site}" is not a site name`, {
      suggestion: 'use 1–32 lower-case letters, digits or hyphens, e.g. north or st-marys',
    });
  return site;
}

/** An optional --site: undefined stays undefined, anything else must be a site name. */
export function optionalSite(site: string | undefined, where = '--site'): string | undefined {
  return site === undefined ? undefined : checkSiteName(site, where);
}

/** What a request matched, each with the site it carries (if any). */
export interface SiteSources {
  user?: { site?: string | null | undefined } | null | undefined;
  device?: { site?: string | null | undefined } | null | undefined;
  network?: { site?: string | null | undefined } | null | undefined;
}

/** The request's site: user wins over device, device over network; null when none carries one. */
export function resolveSite(from: SiteSources): string | null {
  return from.user?.site ?? from.device?.site ?? from.network?.site ?? null;
}
