import { normalisePath } from './target.js';

/**
 * The readings of a normalised path (target.ts normalisePath) that an upstream server may take. The first
 * is the canonical one; the others exist only for paths holding the bytes servers disagree on:
 * - `;` parameters: Tomcat, Jetty and others drop `;params` from every segment (`/a;x/b` is `/a/b`, and
 *   `/ok/..;/admin` is `/admin`), most other servers keep them;
 * - `%2F` and `%5C`: kept as one segment by most servers, read as `/` by some;
 * - `%25`: a few servers decode twice (`%252F` becomes `/`).
 * decide() decides every reading and fails closed when they disagree (the proxy cannot know which one the
 * upstream takes); endpoint matching takes a match on any reading (enforcing SafeSearch on a page that is
 * not a search costs nothing, missing one is a bypass).
 */
export function pathReadings(path: string): string[] {
  const q = path.indexOf('?');
  const pathname = q === -1 ? path : path.slice(0, q);
  const query = q === -1 ? '' : path.slice(q);
  if (!/;|%2F|%5C|%25/i.test(pathname)) return [path];
  const readings = [path];
  const withoutParams = stripSegmentParams(pathname);
  add(readings, normalisePath(withoutParams) + query);
  add(readings, normalisePath(decodeSeparators(decodePercentOnce(withoutParams))) + query);
  return readings;
}

/**
 * The path as an endpoint table compares it (endpoints.ts): `;params` dropped, lower-case, no trailing
 * slash (`/HTML/` and `/html` reach the same DuckDuckGo page), no query.
 */
export function endpointPath(pathname: string): string {
  const lower = stripSegmentParams(pathname).toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

function stripSegmentParams(pathname: string): string {
  return pathname
    .split('/')
    .map((segment) => {
      const semi = segment.indexOf(';');
      return semi === -1 ? segment : segment.slice(0, semi);
    })
    .join('/');
}

function decodePercentOnce(pathname: string): string {
  return pathname.replace(/%25([0-9A-Fa-f]{2})/g, '%$1');
}

function decodeSeparators(pathname: string): string {
  return pathname.replace(/%2F|%5C/gi, '/');
}

function add(readings: string[], reading: string): void {
  if (!readings.includes(reading)) readings.push(reading);
}
