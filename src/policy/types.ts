/**
 * The shapes the pure policy core works on. No I/O lives in src/policy/.
 */
import type { EndpointTable } from './endpoints.js';
import type { IllegalTier } from './illegal-tier.js';
import type { ExceptionScope, ExceptionSet } from './exceptions.js';

export type Action = 'allow' | 'warn' | 'block';

/** Most restrictive first: used to pick the winner among matched categories. */
export const ACTION_SEVERITY: Record<Action, number> = { allow: 0, warn: 1, block: 2 };

export type HostKind = 'domain' | 'ipv4' | 'ipv6';

/**
 * The request target, parsed once. The same value feeds decide(), the audit row and the upstream connect.
 * - host: lowercase ASCII (IDN → punycode), no trailing dot; IPv4 dotted-quad; IPv6 compressed, no brackets;
 *   an IPv4-mapped IPv6 address is turned into its IPv4 form.
 * - path: the normalised path and query used for matching (percent-decoding of unreserved characters,
 *   dot-segments removed, duplicate slashes collapsed, fragment dropped). '/' for CONNECT.
 */
export interface Target {
  scheme: 'http' | 'https';
  host: string;
  hostKind: HostKind;
  port: number;
  path: string;
}

export interface PolicyRequest {
  target: Target;
  method: string;
  /** The signed-in user (null or absent: nobody signed in): user-scoped exceptions need it. */
  user?: string | null;
  /** An application/x-www-form-urlencoded body that was read (bounded): known endpoints' forms are decided too. */
  form?: URLSearchParams;
}

export interface CategoryMeta {
  name: string;
  title: string;
  description: string;
  /** Shows in investigations. */
  flagged: boolean;
  /** Raises a safeguarding alert. */
  alert: boolean;
}

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** While open, the window's category actions replace the profile's own for those categories. */
export interface TimeWindow {
  name: string;
  days: Weekday[];
  /** 'HH:MM', local time in the profile's time zone, inclusive. */
  from: string;
  /** 'HH:MM', exclusive. */
  to: string;
  categories: Record<string, Action>;
}

export interface Profile {
  name: string;
  description: string;
  /** Action when no entry and no category matched. */
  defaultAction: Action;
  /** category name → action; categories not named here are allowed. */
  categories: Record<string, Action>;
  /** Explicit entries (domains or URL prefixes in list syntax) that come before categories. Deny beats allow. */
  allow: string[];
  deny: string[];
  /** Action for requests whose host is an IP literal and matched nothing else. */
  ipLiterals: Action;
  timeWindows: TimeWindow[];
  /** IANA time zone the time windows are read in, e.g. 'Europe/London'. */
  timeZone: string;
  /** HTTPS inspection on for this profile (absent: off). */
  inspect?: boolean;
  /** Categories never inspected for this profile (besides the config-wide list). */
  neverInspect?: string[];
  /** A tunnel that is not inspected may carry other protocols than TLS (absent: no). */
  tunnelNonTls?: boolean;
  /** Force SafeSearch on Google, Bing and DuckDuckGo. */
  safeSearch?: boolean;
  /** YouTube restricted mode. */
  youtubeRestrict?: 'off' | 'moderate' | 'strict';
  /**
   * 'monitor' (pilot mode): decided and recorded as 'enforce' would, but a block or warn is let through and
   * its row says would-block / would-warn. Never the illegal-content tier. Absent: 'enforce'.
   */
  mode?: ProfileMode;
}

export type ProfileMode = 'enforce' | 'monitor';

/** One entry of a list that matched: which list (category or profile entry list) and which line. */
export interface ListMatch {
  list: string;
  entry: string;
  /** `regex`: a URL regex rule of an `expressions` file (url-regex.ts); `entry` is the pattern. */
  kind: 'domain' | 'url' | 'ip' | 'regex';
}

/**
 * A compiled, immutable set of category lists. Lookups cost O(labels of the host), not O(list size).
 */
export interface CategoryLists {
  readonly categories: ReadonlyMap<string, CategoryMeta>;
  /** Known search, translate and archive endpoints (endpoints.ts), loaded beside the lists. */
  readonly endpoints: EndpointTable;
  /** Exceptions for a person, a profile or everyone (exceptions.ts), loaded beside the lists; absent: none. */
  readonly exceptions?: ExceptionSet;
  /** Every list entry that matches the target, in any category. */
  match(target: Target): ListMatch[];
  /** The illegal-content tier (illegal-tier.ts), decided before everything else; absent: none loaded. */
  readonly illegal?: IllegalTier;
}

export type RuleKind =
  /** The illegal-content tier (IWF, CTIRU): before everything, for everyone, in every mode. */
  | 'illegal-tier'
  /** An exception (exceptions.ts) for the user, their profile or everyone. */
  | 'exception-block'
  | 'exception-allow'
  | 'profile-deny'
  | 'profile-allow'
  | 'category'
  | 'time-window'
  | 'ip-literal'
  | 'mixed-script-host'
  | 'default'
  | 'policy-error'
  /** The readings of the URL an upstream could take disagree, or a translator's target cannot be read. */
  | 'ambiguous-url';

export interface Rule {
  kind: RuleKind;
  /** The list or setting that decided: a category name, 'profile:<name>:deny', a window name, ... */
  list: string;
  /** The exact entry, or '' for defaults. */
  entry: string;
  /** For 'category' and 'time-window' rules: the category whose action decided. */
  category?: string;
}

/** Set when the decision was made on a target embedded in a translator or archive URL (loophole sites). */
export interface Via {
  kind: 'translator' | 'archive';
  /** The host that was actually requested, e.g. translate.google.com. */
  service: string;
  /** The embedded target the decision was made on. */
  target: Target;
}

export interface Decision {
  action: Action;
  profile: string;
  /** Every category that matched, sorted, deduplicated. */
  categories: string[];
  /** The rule that decided. */
  rule: Rule;
  /** Every list match considered, for `explain`. */
  matches: ListMatch[];
  /** True when any matched category is flagged (investigations), or the access was blocked by a flagged one. */
  flagged: boolean;
  /** True when any matched category raises safeguarding alerts. */
  alert: boolean;
  /** One sentence a person can read: why this action. Reused on block/warn pages and reports. */
  explanation: string;
  /** Present when an exception decided: which one, whom it covers and when it ends (null: until removed). */
  exception?: { id: number; scope: ExceptionScope; expiresAt: string | null };
  /** Present when the embedded target of a translator/archive URL decided. */
  via?: Via;
  /** Present when the Latin reading of a look-alike name decided (e.g. `pornhub.com` for `xn--prnhub-wqf.com`). */
  lookalike?: string;
  /** For 'policy-error' decisions: the internal error message (for the audit row and logs, not for pupils). */
  error?: string;
  /** For 'policy-error' decisions: the stable SG code of the failure (SG_POLICY_ERROR, SG_IDENTITY_ERROR, ...). */
  errorCode?: string;
}
