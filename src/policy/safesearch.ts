/**
 * SafeSearch and YouTube restrictions (pure). For inspected requests the request itself is rewritten
 * (Chromium's safe_search_util does the same): Google `safe=active`, Bing `adlt=strict`, DuckDuckGo `kp=1`,
 * whatever the user sent, and the `YouTube-Restrict` header. For profiles without inspection the documented
 * host mappings are used at CONNECT instead: the proxy connects to forcesafesearch.google.com,
 * strict.bing.com or restrict(moderate).youtube.com, which the engines serve with SafeSearch locked on.
 */
import { isBingHost, isDuckDuckGoHost, isGoogleHost, isYouTubeHost } from './search-terms.js';

export interface SafeSearchSettings {
  safeSearch: boolean;
  youtubeRestrict: 'off' | 'moderate' | 'strict';
}

export interface SafeSearchRewrite {
  /** The path and query to send (unchanged when no parameter was enforced). */
  pathAndQuery: string;
  /** Headers to set on the upstream request. */
  headers: Record<string, string>;
  /** What was enforced, for the audit row, e.g. ['safe=active'] or ['YouTube-Restrict: Strict']. */
  rewrites: string[];
}

const GOOGLE_PATHS = /^\/(search|images|imghp|webhp|videosearch|complete\/search)?$/;

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

/** The rewrite for an inspected request to `host` with `pathAndQuery`. */
export function safeSearchRewrite(
  host: string,
  pathAndQuery: string,
  settings: SafeSearchSettings,
): SafeSearchRewrite {
  const result: SafeSearchRewrite = { pathAndQuery, headers: {}, rewrites: [] };
  const pathname = pathAndQuery.split('?')[0]!;
  if (settings.safeSearch) {
    let param: [string, string] | null = null;
    if (isGoogleHost(host) && GOOGLE_PATHS.test(pathname) && pathAndQuery.includes('?'))
      param = ['safe', 'active'];
    else if (isBingHost(host) && pathname.startsWith('/') && /^\/(search|images|videos)/.test(pathname))
      param = ['adlt', 'strict'];
    else if (
      isDuckDuckGoHost(host) &&
      (pathname === '/' || pathname.startsWith('/html')) &&
      pathAndQuery.includes('?')
    )
      param = ['kp', '1'];
    if (param) {
      result.pathAndQuery = forceParam(pathAndQuery, param[0], param[1]);
      result.rewrites.push(`${param[0]}=${param[1]}`);
    }
  }
  if (settings.youtubeRestrict !== 'off' && (isYouTubeHost(host) || YOUTUBE_API_HOSTS.has(host))) {
    const value = settings.youtubeRestrict === 'strict' ? 'Strict' : 'Moderate';
    result.headers['youtube-restrict'] = value;
    result.rewrites.push(`YouTube-Restrict: ${value}`);
  }
  return result;
}

const YOUTUBE_API_HOSTS = new Set([
  'youtubei.googleapis.com',
  'youtube.googleapis.com',
  'www.youtube-nocookie.com',
]);

/**
 * For profiles without inspection: the name to connect to instead of the requested one (the documented
 * ForceSafeSearch mappings), or null. The CONNECT row records the mapping as a rewrite.
 */
export function safeSearchHostMapping(host: string, settings: SafeSearchSettings): string | null {
  if (settings.safeSearch) {
    if (isGoogleHost(host)) return 'forcesafesearch.google.com';
    if (isBingHost(host)) return 'strict.bing.com';
    if (isDuckDuckGoHost(host)) return 'safe.duckduckgo.com';
  }
  if (settings.youtubeRestrict !== 'off' && (isYouTubeHost(host) || YOUTUBE_API_HOSTS.has(host)))
    return settings.youtubeRestrict === 'strict' ? 'restrict.youtube.com' : 'restrictmoderate.youtube.com';
  return null;
}
