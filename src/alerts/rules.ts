/**
 * Which safeguarding rules a committed audit row meets (pure, no I/O, no clock): the engine (engine.ts)
 * turns each candidate into an alert or a count on an open one (windows.ts).
 *
 *   - category: the row matched a category marked `alert` (shipped or local). Allowed, warned and blocked
 *     alike: a member of staff who may reach an extremist site still raises an alert.
 *   - keyword: the search term, or the words of the path and query on a known search, video or social
 *     host, contain a phrase of a keyword list. Autocomplete requests are not searches: a pupil typing
 *     "how to k" must not alert on every keystroke's suggestion fetch.
 *   - login throttled: failed proxy logins hit the throttle (someone guessing a password).
 *   - illegal tier: the request hit the illegal-content tier (IWF, CTIRU): always danger.
 * Repeated attempts at flagged categories are counted over time, so they are in windows.ts.
 */
import { PILOT_ACTIONS, type AuditEvent } from '../audit/types.js';
import { matchKeywords, severityRank, type KeywordIndex, type Severity } from './keywords/index.js';
import { searchTextOf } from './keywords/search-text.js';

export interface AlertCandidate {
  /** 'category:<name>', 'keyword:<list>', 'auth:throttled', 'repeated:blocked-flagged'. */
  rule: string;
  list: string | null;
  severity: Severity;
  /** The keyword list entry that matched. */
  phrase: string | null;
  searchTerm: string | null;
  /**
   * The alert names the site, not the page (illegal-content tier): e-mails and webhooks must not pass an
   * address of child-abuse material on; the audit row ids lead to it for whoever may see it.
   */
  originOnly?: boolean;
}

export interface RuleContext {
  /** Categories that raise alerts, with the severity of their alerts. */
  alertCategories: ReadonlyMap<string, Severity>;
  keywords: KeywordIndex;
  /** True for a host whose paths are read for keywords (search, video, social). */
  isKeywordHost: (host: string) => boolean;
}

/** Rows that are about a person reaching (or trying to reach) something; not refusals of the client. */
const ACCESS_ACTIONS = new Set<AuditEvent['action']>(['allow', 'warn', 'continue', 'continued', 'block']);
for (const action of PILOT_ACTIONS) ACCESS_ACTIONS.add(action);

/** The rule text of an illegal-content tier hit starts so (src/exchange/rows.ts ruleText). */
const ILLEGAL_TIER_RULE = 'illegal-tier:';

export function candidatesFor(row: Readonly<AuditEvent>, ctx: RuleContext): AlertCandidate[] {
  const out: AlertCandidate[] = [];
  if (row.action === 'auth-failed' && row.reason.startsWith('auth:throttled')) {
    // The row names nobody (a failed login identifies no one); the account being guessed is the phrase.
    const phrase = row.claimedUser ? `login as ${row.claimedUser}` : null;
    out.push({ rule: 'auth:throttled', list: null, severity: 'advisory', phrase, searchTerm: null });
    return out;
  }
  if (!ACCESS_ACTIONS.has(row.action)) return out;

  // Every hit of the illegal-content tier: danger, whatever the categories and alert settings say. One
  // alert per person and list file per window (each further hit is counted on it), like every rule.
  if (row.rule?.startsWith(ILLEGAL_TIER_RULE)) {
    const list = row.rule.slice(ILLEGAL_TIER_RULE.length).split(':').slice(0, 2).join(':');
    out.push({
      rule: `illegal-tier:${list}`,
      list,
      severity: 'danger',
      phrase: null,
      searchTerm: null,
      originOnly: true,
    });
  }

  for (const category of row.categories) {
    const severity = ctx.alertCategories.get(category);
    if (severity)
      out.push({ rule: `category:${category}`, list: category, severity, phrase: null, searchTerm: null });
  }

  const text = keywordTextOf(row, ctx);
  if (text) {
    // One candidate per list: its most severe phrase names it.
    const best = new Map<string, { phrase: string; severity: Severity }>();
    for (const m of matchKeywords(ctx.keywords, text.text)) {
      const seen = best.get(m.list);
      if (!seen || severityRank(m.severity) > severityRank(seen.severity)) best.set(m.list, m);
    }
    const byGrade = [...best].sort(
      ([a, x], [b, y]) => severityRank(y.severity) - severityRank(x.severity) || a.localeCompare(b),
    );
    for (const [list, m] of byGrade)
      out.push({
        rule: `keyword:${list}`,
        list,
        severity: m.severity,
        phrase: m.phrase,
        searchTerm: text.searchTerm,
      });
  }
  return out;
}

/** The text keyword lists are matched against, or null when the row carries none worth reading. */
function keywordTextOf(
  row: Readonly<AuditEvent>,
  ctx: RuleContext,
): { text: string; searchTerm: string | null } | null {
  if (row.path === null || row.kind === 'tunnel') return null;
  if (isAutocomplete(row.path)) return null;
  if (row.searchTerm) return { text: row.searchTerm, searchTerm: row.searchTerm };
  if (!ctx.isKeywordHost(row.host)) return null;
  const text = searchTextOf(row.path);
  return text ? { text, searchTerm: null } : null;
}

/**
 * Suggestion fetches sent while a person types: Google /complete/search, Bing /AS/Suggestions, DuckDuckGo
 * /ac/, Baidu /sugrec, YouTube's suggestqueries, and the generic /suggest and /autocomplete endpoints.
 */
const AUTOCOMPLETE =
  /^\/(?:[^?#]*\/)?(?:complete|autocomplete|suggest|suggestions|sugrec|ac|suggestqueries)(?:[/?#.]|$)/i;

export function isAutocomplete(path: string): boolean {
  return AUTOCOMPLETE.test(path);
}

/**
 * Host patterns read for keywords: `youtube.com` covers its subdomains; `google.*` is any host whose
 * registrable part is google under a one- or two-label public suffix (google.com, www.google.co.uk).
 */
export function keywordHostMatcher(patterns: readonly string[]): (host: string) => boolean {
  const exact = new Set<string>();
  const anySuffix = new Set<string>();
  for (const p of patterns) {
    const lower = p.toLowerCase().replace(/\.$/, '');
    if (lower.endsWith('.*')) anySuffix.add(lower.slice(0, -2));
    else exact.add(lower);
  }
  return (host) => {
    const labels = host.toLowerCase().replace(/\.$/, '').split('.');
    for (let i = 0; i < labels.length; i++) {
      if (exact.has(labels.slice(i).join('.'))) return true;
      const rest = labels.length - i - 1;
      if (rest >= 1 && rest <= 2 && anySuffix.has(labels[i]!) && labels.slice(i + 1).every(isTldLike))
        return true;
    }
    return false;
  };
}

function isTldLike(label: string): boolean {
  return /^[a-z]{2,3}$/.test(label);
}

/** Shipped default for `alerts.keywordHosts`. */
export const DEFAULT_KEYWORD_HOSTS: readonly string[] = [
  'google.*',
  'bing.com',
  'duckduckgo.com',
  'search.yahoo.com',
  'ecosia.org',
  'search.brave.com',
  'yandex.*',
  'youtube.com',
  'tiktok.com',
  'instagram.com',
  'facebook.com',
  'x.com',
  'twitter.com',
  'reddit.com',
  'pinterest.com',
  'pinterest.co.uk',
  'tumblr.com',
];
