/**
 * Search terms from search-engine URLs (pure): Google, Bing, DuckDuckGo, Yahoo and YouTube search. The
 * term goes into the audit row's own column, for investigators' reports and safeguarding alerts.
 */
import type { Target } from './types.js';

export type SearchEngine = 'google' | 'bing' | 'duckduckgo' | 'yahoo' | 'youtube';

export interface SearchTerm {
  engine: SearchEngine;
  term: string;
}

const MAX_TERM = 500;
// eslint-disable-next-line no-control-regex -- control characters never belong in a stored term
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** google.com, www.google.co.uk, google.de ... (not googleapis.com, not notgoogle.com). */
export function isGoogleHost(host: string): boolean {
  return /^(www\.)?google(\.[a-z]{2,3}){1,2}$/.test(host);
}

export function isBingHost(host: string): boolean {
  return host === 'bing.com' || host === 'www.bing.com' || host === 'cn.bing.com';
}

export function isDuckDuckGoHost(host: string): boolean {
  return host === 'duckduckgo.com' || host === 'www.duckduckgo.com' || host === 'html.duckduckgo.com';
}

export function isYahooSearchHost(host: string): boolean {
  return host === 'search.yahoo.com' || /^[a-z]{2}\.search\.yahoo\.com$/.test(host);
}

export function isYouTubeHost(host: string): boolean {
  return ['youtube.com', 'www.youtube.com', 'm.youtube.com', 'music.youtube.com'].includes(host);
}

/** Which engine, path and parameter carry the term. */
function termParameter(host: string, pathname: string): { engine: SearchEngine; param: string } | null {
  if (isGoogleHost(host) && (pathname === '/search' || pathname === '/complete/search'))
    return { engine: 'google', param: 'q' };
  if (isBingHost(host) && (pathname === '/search' || pathname.startsWith('/images/search')))
    return { engine: 'bing', param: 'q' };
  if (isDuckDuckGoHost(host) && (pathname === '/' || pathname === '/html/' || pathname === '/html'))
    return { engine: 'duckduckgo', param: 'q' };
  if (isYahooSearchHost(host) && pathname.startsWith('/search')) return { engine: 'yahoo', param: 'p' };
  if (isYouTubeHost(host) && pathname === '/results') return { engine: 'youtube', param: 'search_query' };
  return null;
}

/** The search term of a request, or null when it is not a search. `pathAndQuery` may be raw or normalised. */
export function extractSearchTerm(target: Pick<Target, 'host'>, pathAndQuery: string): SearchTerm | null {
  const q = pathAndQuery.indexOf('?');
  const pathname = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const which = termParameter(target.host, pathname);
  if (!which || q < 0) return null;
  let term: string | null;
  try {
    term = new URLSearchParams(pathAndQuery.slice(q + 1)).get(which.param);
  } catch {
    return null;
  }
  term = (term ?? '').replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  if (!term) return null;
  return { engine: which.engine, term: term.slice(0, MAX_TERM) };
}
