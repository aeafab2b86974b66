/**
 * What the proxy's own pages (block, warn, error) are told about the request they answer.
 * Every string here may come from the request and is treated as hostile: the renderers escape all of it.
 */
import type { PageBranding } from './branding.js';

/** Why the page is shown. 'policy' (the default) means a category or profile rule decided. */
export type PageReason =
  | 'policy'
  /** The illegal-content tier (IWF, CTIRU): no Continue, no unblock request, for everyone. */
  | 'illegal-tier'
  | 'policy-error'
  | 'port'
  | 'ip-literal'
  | 'client-network'
  | 'bad-request'
  | 'audit-unavailable'
  | 'upstream-error';

export interface PageCategory {
  /** The category's machine name, e.g. 'social'. */
  name: string;
  /** Its title in words a pupil understands, e.g. 'Social networking'. */
  title: string;
}

export interface PageInfo {
  /** The full address that was asked for, exactly as received (shown escaped). */
  url: string;
  host: string;
  categories: PageCategory[];
  /** The profile that decided, e.g. 'pupils'. */
  profile: string;
  user: string | null;
  /** When the decision was made. */
  time: Date;
  /** IANA time zone of the school, e.g. 'Europe/London'. The time is shown in it. */
  timeZone: string;
  /** The audit row id, to quote to IT. */
  reference: string;
  /** One sentence from the Decision: why this action. */
  explanation: string;
  reason?: PageReason;
  /**
   * Where the "I reached this by accident" button posts to (method POST, hidden field `reference`).
   * Must be a path on the same origin (e.g. '/.schoolgate/report') or an http(s) URL; anything else is dropped.
   */
  reportAccidentUrl?: string;
  /** The school's name, logo and contact line (config branding). */
  branding?: PageBranding;
  /** The "ask for this site to be unblocked" form (absent: the page offers none). */
  unblock?: UnblockOffer;
}

export interface UnblockOffer {
  /** Where the form posts (a path on the blocked page's own origin). */
  action: string;
  /** Hidden fields: the signed token, the site, the blocked page's reference and address. */
  fields: { token: string; site: string; ref: string; url: string };
  /** The person's last request for this site, when one is waiting or was denied. */
  last?: { status: 'pending' | 'denied'; at: Date; note: string | null };
}
