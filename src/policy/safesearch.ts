/**
 * SafeSearch and YouTube restrictions (pure). For inspected requests the request itself is rewritten
 * (Chromium's safe_search_util does the same): the parameter the endpoint table names for the search
 * endpoint reached (Google `safe=active`, Bing `adlt=strict`, DuckDuckGo `kp=1`, ...), whatever the user
 * sent, in the query and, for a form POST, in the body too; and the `YouTube-Restrict` header. The endpoint
 * is found on the canonical target, so `//search`, `/%73earch` and `/search;x` are searches too. For
 * profiles without inspection the documented host mappings are used at CONNECT instead: the proxy connects
 * to forcesafesearch.google.com, strict.bing.com or restrict(moderate).youtube.com, which the engines serve
 * with SafeSearch locked on.
 */
import type { EndpointTable } from './endpoints.js';
import type { Target } from './types.js';

export interface SafeSearchSettings {
  safeSearch: boolean;
  youtubeRestrict: 'off' | 'moderate' | 'strict';
}

export interface SafeSearchRewrite {
  /** The path and query to send (unchanged when no parameter was enforced). */
  pathAndQuery: string;
  /** The form body to send instead of the client's (only when a form body was given and rewritten). */
  form?: string;
  /** Headers to set on the upstream request. */
  headers: Record<string, string>;
  /** What was enforced, for the audit row, e.g. ['safe=active'] or ['YouTube-Restrict: Strict']. */
  rewrites: string[];
}

const YOUTUBE_HOSTS = new Set([
  'youtube.com',
  'www.youtube.com',
  'm.youtube.com',
  'music.youtube.com',
  'youtubei.googleapis.com',
  'youtube.googleapis.com',
  'www.youtube-nocookie.com',
]);

/** Removes every `name` parameter the user sent and appends `name=value`; other parameters keep their bytes. */
export function forceParam(pathAndQuery: string, name: string, value: string): string {
  const q = pathAndQuery.indexOf('?');
  const pathname = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? '' : pathAndQuery.slice(q + 1);
  const kept = query.split('&').filter((pair) => {
    if (pair === '') return false;
    const key = pair.split('=')[0]!;
    let decoded = key;
    try {
      decoded = decodeURIComponent(key.replace(/\+/g, ' '));
    } catch {
      // an undecodable key is not ours
    }
    return decoded.toLowerCase() !== name;
  });
  return `${pathname}?${[...kept, `${name}=${value}`].join('&')}`;
}

/**
 * The rewrite for an inspected request to `target` (canonical, for finding the endpoint) whose client bytes
 * are `rawPath`. A search endpoint with a query, or with a form body, gets its parameter forced.
 */
export function safeSearchRewrite(
  endpoints: EndpointTable,
  target: Pick<Target, 'host' | 'path'>,
  rawPath: string,
  settings: SafeSearchSettings,
  form?: string,
): SafeSearchRewrite {
  const result: SafeSearchRewrite = { pathAndQuery: rawPath, headers: {}, rewrites: [] };
  const match = settings.safeSearch ? endpoints.match(target) : null;
  const forced = match?.spec.kind === 'search' ? match.spec.safeSearch : undefined;
  const hasForm = form !== undefined && match?.spec.forms === true;
  if (forced && (rawPath.includes('?') || hasForm)) {
    result.pathAndQuery = forceParam(rawPath, forced.param, forced.value);
    if (hasForm) result.form = forceParam(`?${form}`, forced.param, forced.value).slice(1);
    result.rewrites.push(`${forced.param}=${forced.value}`);
  }
  if (settings.youtubeRestrict !== 'off' && YOUTUBE_HOSTS.has(target.host)) {
    const value = settings.youtubeRestrict === 'strict' ? 'Strict' : 'Moderate';
    result.headers['youtube-restrict'] = value;
    result.rewrites.push(`YouTube-Restrict: ${value}`);
  }
  return result;
}

/**
 * For profiles without inspection: the name to connect to instead of the requested one (the documented
 * ForceSafeSearch mappings, from the endpoint table), or null. The CONNECT row records the mapping.
 */
export function safeSearchHostMapping(
  endpoints: EndpointTable,
  host: string,
  settings: SafeSearchSettings,
): string | null {
  if (settings.safeSearch) {
    const mapped = endpoints.safeSearchHost(host);
    if (mapped !== null) return mapped;
  }
  if (settings.youtubeRestrict !== 'off' && YOUTUBE_HOSTS.has(host))
    return settings.youtubeRestrict === 'strict' ? 'restrict.youtube.com' : 'restrictmoderate.youtube.com';
  return null;
}
