import { paramValues, type EndpointMatch, type EndpointTable } from './endpoints.js';
import { parseAbsoluteTarget } from './target.js';
import { isTargetError } from './target-error.js';
import type { Target, Via } from './types.js';

/**
 * "Loophole sites" (hostile-inputs §1, A13/A14): translators and archives fetch a page for the user, so the
 * proxy sees only the service's host. The endpoint table (endpoints.ts) says where each one carries the
 * page; every reading of it that a URL parser could take is returned, so decide() judges each:
 * - a parameter (`translate.google.com/translate?u=<url>`, `translate.yandex.com/translate?url=<url>`), in
 *   the query or a form body, read the way browsers and the services' own parsers read it (WHATWG: `\` is
 *   `/`, `http:/x` and `http:x` are `http://x`, tabs and newlines are dropped, userinfo is not the host);
 * - the path (`web.archive.org/web/<timestamp>/<url>`, `archive.ph/newest/<url>`);
 * - the first host label (`www-example-com.translate.goog`).
 * `unreadable` is set when a target is there but no reading of it gives an http(s) host: decide() then
 * fails closed, because the service may still fetch something the proxy cannot name.
 */
export interface Embedded {
  vias: Via[];
  unreadable?: string;
}

const NONE: Embedded = { vias: [] };

export function embeddedTargets(endpoints: EndpointTable, target: Target, form?: URLSearchParams): Embedded {
  const match = endpoints.match(target);
  if (!match || match.spec.kind === 'search') return NONE;
  const kind: Via['kind'] = match.spec.kind === 'archive' ? 'archive' : 'translator';
  const raw = rawTargets(match, target, form);
  const out: Embedded = { vias: [] };
  for (const value of raw) {
    const readings = urlReadings(value, target.scheme);
    if (readings.length === 0) {
      out.unreadable ??= value.slice(0, 200);
      continue;
    }
    for (const t of readings)
      if (!out.vias.some((v) => sameTarget(v.target, t)))
        out.vias.push({ kind, service: target.host, target: t });
  }
  return out;
}

function rawTargets(match: EndpointMatch, target: Target, form: URLSearchParams | undefined): string[] {
  switch (match.spec.target ?? 'param') {
    case 'param':
      return paramValues(target.path, match.spec.forms ? form : undefined, match.spec.params).filter(
        (v) => v.trim() !== '',
      );
    case 'path':
      return fromPath(match);
    case 'host-label':
      return fromHostLabel(target);
  }
}

function fromPath(match: EndpointMatch): string[] {
  const prefix = match.prefix === '/' ? '' : match.prefix;
  let rest = match.path.slice(prefix.length).replace(/^\/+/, '');
  if (match.spec.skipSegment !== undefined) {
    const slash = rest.indexOf('/');
    const first = slash === -1 ? rest : rest.slice(0, slash);
    if (new RegExp(`^(?:${match.spec.skipSegment})$`, 'i').test(first))
      rest = slash === -1 ? '' : rest.slice(slash + 1);
  }
  // The canonical path folded `http://x` into `http:/x`; an encoded URL (`http%3A%2F%2Fx`) is one segment.
  if (/^https?%3a/i.test(rest)) rest = safeDecode(rest);
  if (rest === '' || rest.startsWith('?')) return [];
  return [rest];
}

function fromHostLabel(target: Target): string[] {
  const dot = target.host.indexOf('.');
  const label = target.host.slice(0, dot);
  if (label === '') return [];
  const decoded = label.replace(/--|-/g, (m) => (m === '--' ? '-' : '.'));
  return [`${target.scheme}://${decoded}${stripTranslateParams(target.path)}`];
}

/**
 * The targets a URL-ish string may name: the WHATWG reading (what browsers and Chromium-based fetchers
 * take), and, when it differs, the plain RFC 3986 reading of the authority (a backslash or `@` read
 * literally). A string without a scheme is read as `http://` + string, like the services do.
 */
export function urlReadings(value: string, defaultScheme: 'http' | 'https'): Target[] {
  // eslint-disable-next-line no-control-regex -- WHATWG strips these before parsing, so must we
  const trimmed = value.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '');
  if (trimmed === '') return [];
  const withScheme = /^[a-z][a-z0-9+.-]*:/i.test(trimmed)
    ? trimmed
    : trimmed.startsWith('//') || trimmed.startsWith('\\\\')
      ? `${defaultScheme}:${trimmed}`
      : `http://${trimmed}`;
  const out: Target[] = [];
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (url && (url.protocol === 'http:' || url.protocol === 'https:')) {
    const t = parsed(`${url.protocol}//${url.host}${url.pathname}${url.search}`);
    if (t) out.push(t);
  }
  const literal = /^(https?):\/\/([^/?#]*)(.*)$/is.exec(withScheme);
  if (literal) {
    const authority = (literal[2] ?? '').replace(/^.*@/, '');
    const t = parsed(`${literal[1]}://${authority.replace(/\\.*$/, '')}${literal[3] ?? ''}`);
    if (t && !out.some((o) => sameTarget(o, t))) out.push(t);
  }
  return out;
}

function parsed(url: string): Target | undefined {
  try {
    return parseAbsoluteTarget(url);
  } catch (err) {
    if (isTargetError(err)) return undefined;
    throw err;
  }
}

function sameTarget(a: Target, b: Target): boolean {
  return a.host === b.host && a.port === b.port && a.path === b.path && a.scheme === b.scheme;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// translate.goog adds its own _x_tr_* parameters; they are not part of the translated page's URL.
function stripTranslateParams(path: string): string {
  const q = path.indexOf('?');
  if (q === -1) return path;
  const kept = path
    .slice(q + 1)
    .split('&')
    .filter((p) => !p.startsWith('_x_tr_'));
  return kept.length === 0 ? path.slice(0, q) : `${path.slice(0, q)}?${kept.join('&')}`;
}
