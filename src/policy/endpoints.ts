import { lookupFastPath } from './lookup-fast-path.js';
import { endpointPath, pathReadings } from './path-readings.js';
import type { Target } from './types.js';

/**
 * The table of known search, translate and archive endpoints: data (categories/endpoints.yaml and the
 * school's categories.local/endpoints.yaml, read by src/lists/endpoints-file.ts), compiled here once.
 *
 * Host patterns: an exact name (`www.bing.com`), `*` for exactly one label (`*.translate.goog`), and
 * `{tld}` for a country or generic ending of one or two short labels (`google.{tld}`: google.com,
 * google.co.uk, google.de). Path patterns are compared with endpointPath() (case-insensitive, `;params`
 * dropped, no trailing slash): `/search` is that path only, `/images/*` is `/images` and everything below.
 */
export type EndpointKind = 'search' | 'translate' | 'archive';

/** Where a translate/archive endpoint carries the page it fetches. */
export type TargetStyle =
  /** A query (or form) parameter named in `params`: `translate.google.com/translate?u=<url>`. */
  | 'param'
  /** The path after the endpoint's path prefix: `web.archive.org/web/<timestamp>/<url>`. */
  | 'path'
  /** The first host label, Google's encoding (`-` is `.`, `--` is `-`): `www-example-com.translate.goog`. */
  | 'host-label';

export interface EndpointSpec {
  name: string;
  kind: EndpointKind;
  hosts: string[];
  paths: string[];
  /** Query (or form) parameters holding the search term (search) or the target URL (translate, param style). */
  params: string[];
  /** An application/x-www-form-urlencoded POST body is read like the query (bounded). */
  forms: boolean;
  /** Translate/archive: where the target is. */
  target?: TargetStyle;
  /** Path style: a segment right after the path prefix to skip (a timestamp, `newest`), as a regular expression. */
  skipSegment?: string;
  /** Search: the parameter forced on inspected requests, and the host uninspected tunnels are sent to. */
  safeSearch?: { param: string; value: string; host?: string };
}

export interface EndpointMatch {
  spec: EndpointSpec;
  /** The path prefix that matched (without `/*`), for path-style targets. */
  prefix: string;
  /** The reading of the path that matched (path-readings.ts). */
  path: string;
}

export interface EndpointTable {
  readonly specs: readonly EndpointSpec[];
  /** The endpoint a request reaches, on any reading of its path; null when it is none of them. */
  match(target: Pick<Target, 'host' | 'path'>): EndpointMatch | null;
  /** The search endpoint with a SafeSearch host for this host, whatever the path (uninspected CONNECT). */
  safeSearchHost(host: string): string | null;
}

interface CompiledSpec {
  spec: EndpointSpec;
  host: (host: string) => boolean;
  paths: { prefix: string; below: boolean }[];
}

const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
const TLD = '[a-z]{2,3}(?:\\.[a-z]{2,3})?';

export function hostPattern(pattern: string): (host: string) => boolean {
  const lower = pattern.toLowerCase();
  if (!lower.includes('*') && !lower.includes('{tld}')) return (host) => host === lower;
  const re = new RegExp(`^${hostPatternSource(pattern)}$`);
  return (host) => re.test(host);
}

/** A host pattern as the source of a regular expression matching exactly the hosts it names. */
function hostPatternSource(pattern: string): string {
  const lower = pattern.toLowerCase();
  if (!lower.includes('*') && !lower.includes('{tld}')) return escapeRegExp(lower);
  return lower
    .split('.')
    .map((label) => (label === '*' ? LABEL : label === '{tld}' ? TLD : escapeRegExp(label)))
    .join('\\.');
}

export function compileEndpoints(specs: readonly EndpointSpec[]): EndpointTable {
  const compiled: CompiledSpec[] = specs.map((spec) => {
    const tests = spec.hosts.map(hostPattern);
    return {
      spec,
      host: (host) => tests.some((t) => t(host)),
      paths: spec.paths.map((p) => {
        const below = p.endsWith('/*');
        return { prefix: endpointPath(below ? p.slice(0, -2) || '/' : p), below };
      }),
    };
  });
  // Every host pattern of the table in one RegExp: most requests reach no endpoint, and one test says so.
  const sources = specs.flatMap((spec) => spec.hosts.map(hostPatternSource));
  const anyHost = new RegExp(`^(?:${sources.join('|')})$`);
  const frozen = Object.freeze(specs.map((s) => Object.freeze({ ...s })));
  return Object.freeze({
    specs: frozen,
    match(target: Pick<Target, 'host' | 'path'>): EndpointMatch | null {
      if (lookupFastPath.enabled && !anyHost.test(target.host)) return null;
      const candidates = compiled.filter((c) => c.host(target.host));
      if (candidates.length === 0) return null;
      // The most specific path wins: an exact path over a prefix, a longer prefix over a shorter one.
      let best: { match: EndpointMatch; rank: number } | undefined;
      for (const reading of pathReadings(target.path)) {
        const q = reading.indexOf('?');
        const path = endpointPath(q === -1 ? reading : reading.slice(0, q));
        for (const c of candidates)
          for (const p of c.paths) {
            if (!pathHits(p, path)) continue;
            const rank = p.prefix.length * 2 + (p.below ? 0 : 1);
            if (best === undefined || rank > best.rank)
              best = { match: { spec: c.spec, prefix: p.prefix, path: reading }, rank };
          }
        if (best !== undefined) return best.match;
      }
      return null;
    },
    safeSearchHost(host: string): string | null {
      const c = compiled.find((x) => x.spec.safeSearch?.host !== undefined && x.host(host));
      return c?.spec.safeSearch?.host ?? null;
    },
  });
}

function pathHits(pattern: { prefix: string; below: boolean }, path: string): boolean {
  if (path === pattern.prefix) return true;
  if (!pattern.below) return false;
  return pattern.prefix === '/' || path.startsWith(`${pattern.prefix}/`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The values of `names` in the query of `path` and in a form body, decoded like a server decodes them
 * (application/x-www-form-urlencoded: `+` is a space; a key spelled `%71` is `q`). Query first.
 */
export function paramValues(
  path: string,
  form: URLSearchParams | undefined,
  names: readonly string[],
): string[] {
  const q = path.indexOf('?');
  const sources = [new URLSearchParams(q === -1 ? '' : path.slice(q + 1))];
  if (form) sources.push(form);
  const out: string[] = [];
  for (const params of sources) for (const name of names) out.push(...params.getAll(name));
  return out;
}
