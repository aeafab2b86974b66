import { parseAbsoluteTarget } from './target.js';
import { isTargetError } from './target-error.js';
import type { Target, Via } from './types.js';

/**
 * "Loophole sites" (hostile-inputs §1, A13/A14): translators and archives fetch a page for the user, so the
 * proxy sees only the service's host. Pull the embedded target out so decide() can judge it too:
 * - `translate.google.com/translate?u=http://x/` (and `translate.googleusercontent.com`)
 * - `x-y-z.translate.goog/path` → `x.y.z/path` (Google's encoding: '-' is '.', '--' is '-')
 * - `web.archive.org/web/<timestamp>/http://x/` (the path is normalised, so `//` arrives as `/`)
 * An embedded URL that does not parse is ignored: the outer target is still decided as usual.
 */
export function extractEmbeddedTarget(target: Target): Via | undefined {
  const host = target.host;
  if (host === 'translate.google.com' || host === 'translate.googleusercontent.com')
    return fromTranslateQuery(target);
  if (host.endsWith('.translate.goog')) return fromTranslateGoog(target);
  if (host === 'web.archive.org') return fromArchive(target);
  return undefined;
}

function fromTranslateQuery(target: Target): Via | undefined {
  const q = target.path.indexOf('?');
  if (q === -1) return undefined;
  const u = new URLSearchParams(target.path.slice(q + 1)).get('u');
  if (u === null || u === '') return undefined;
  return via('translator', target, u);
}

function fromTranslateGoog(target: Target): Via | undefined {
  const label = target.host.slice(0, -'.translate.goog'.length);
  if (label === '' || label.includes('.')) return undefined;
  const decoded = label.replace(/--|-/g, (m) => (m === '--' ? '-' : '.'));
  return via('translator', target, `${target.scheme}://${decoded}${stripTranslateParams(target.path)}`);
}

function fromArchive(target: Target): Via | undefined {
  const m = /^\/web\/[^/]+\/(?:(https?):\/+)?(.+)$/i.exec(target.path);
  if (!m) return undefined;
  const scheme = (m[1] ?? 'http').toLowerCase();
  return via('archive', target, `${scheme}://${m[2] ?? ''}`);
}

function via(kind: Via['kind'], outer: Target, url: string): Via | undefined {
  const withScheme = /^https?:\/\//i.test(url) ? url : `http://${url}`;
  try {
    return { kind, service: outer.host, target: parseAbsoluteTarget(withScheme) };
  } catch (err) {
    if (isTargetError(err)) return undefined;
    throw err;
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
