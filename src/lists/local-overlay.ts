/**
 * The school's local layer (local-layer.ts) as an overlay on the index of the big layers (issue 13: a
 * reload after `lists add/remove` in ≤ 1 s). The snapshot (load-snapshot.ts) is keyed on the shipped and
 * provider lists only, so a technician's edit no longer rebuilds a million entries from text: the load
 * reads the unchanged snapshot and builds a small index of the local additions beside it, plus the set of
 * un-listed (`removed`) keys.
 *
 * A lookup then answers exactly what a full rebuild answers (the property test in
 * test/unit/lists/local-overlay.property.test.ts holds the two side by side):
 * - a base match whose category un-lists its key (`d host` / `u host/path`, entry.ts) is dropped, as the
 *   full load skips the shipped and provider lines with that key;
 * - the overlay's matches join in, one already in the base is not repeated (the full load interns it once
 *   and keeps the first rule text);
 * - the order is the full index's: most specific host first, lists before URL rules on one host, categories
 *   in load order, base before local within a category, regex rules last.
 */
import { ListIndex, type ListIndexImage } from '../policy/list-index.js';
import { CategoryListsBuilder, type CategoryListsImage } from '../policy/lists.js';
import { parseAbsoluteTarget } from '../policy/target.js';
import type { EndpointTable } from '../policy/endpoints.js';
import { MAX_EXPRESSIONS } from '../policy/url-regex.js';
import type { CategoryLists, CategoryMeta, ListMatch, Target } from '../policy/types.js';
import { fillLocalCategory, withLocalMetas, type CategoryCounts, type LoadOptions } from './load.js';
import type { LocalLayer } from './local-layer.js';

/** The local layer as posted beside the base image: its own small index and the un-listed keys. */
export interface LocalOverlayImage {
  index: ListIndexImage;
  /** category → keys (entry.ts) the local `removed` file un-lists. */
  removed: [string, string[]][];
}

/** A base image (the snapshot's) with the local layer over it, when there is one. */
export interface LayeredImage extends CategoryListsImage {
  overlay?: LocalOverlayImage;
}

export interface BaseContent {
  image: CategoryListsImage;
  counts: Map<string, CategoryCounts>;
  warnings: string[];
}

/**
 * The local layer read over `base` (built without it): the image with the overlay, and the counts and
 * warnings the full load would give. Undefined when an overlay could not answer exactly as a full load
 * (more regex rules in all than one list set holds: which are dropped depends on the load order; or
 * provider entries for a category the school created, which the full load puts in it and the base,
 * without that category, skipped); the caller then builds from text. List errors (a local file over the invalid-line limits, a local category
 * with a shipped name) are thrown as the full load throws them.
 */
export async function overlayLocalLayer(
  dir: string,
  base: BaseContent,
  local: LocalLayer,
  opts: LoadOptions,
): Promise<(BaseContent & { image: LayeredImage }) | undefined> {
  if (local.metas.some((m) => opts.provider?.dirs.includes(m.name))) return undefined;
  const warnings: string[] = [];
  const metas = withLocalMetas(dir, base.image.meta, local, warnings);
  const builder = new CategoryListsBuilder();
  for (const meta of metas) builder.addCategory(meta);
  const counts = new Map<string, CategoryCounts>();
  for (const [name, c] of base.counts) counts.set(name, structuredClone(c));
  const baseIndex = new ListIndex(base.image.index);
  for (const meta of metas) {
    const count = counts.get(meta.name) ?? { domains: 0, urls: 0, invalid: 0 };
    counts.set(meta.name, count);
    const removed = local.removed.get(meta.name);
    if (removed) unlistCounts(baseIndex, meta.name, removed, count);
    const expressions = await fillLocalCategory(builder, meta, local, count, warnings, opts.limits);
    if (expressions > 0) count.expressions = (count.expressions ?? 0) + expressions;
  }
  const top = builder.image();
  if (base.image.expressions.length + top.expressions.length > MAX_EXPRESSIONS) return undefined;
  const order = categoryOrder(metas);
  // The full load adds rules category by category, shipped and provider before local.
  const expressions = [...base.image.expressions, ...top.expressions].sort(
    (a, b) => (order.get(a.list) ?? 0) - (order.get(b.list) ?? 0),
  );
  const removed = [...local.removed].map(([c, keys]): [string, string[]] => [c, [...keys]]);
  return {
    image: { ...base.image, meta: metas, expressions, overlay: { index: top.index, removed } },
    counts,
    warnings: [...base.warnings, ...warnings],
  };
}

/**
 * Counts as the full load gives them: a removed key the base holds in this category is one shipped line
 * skipped. (The full load counts every duplicate line and tells provider lines apart; the overlay knows
 * the index, not the lines: `domains`/`urls` may differ by those, shippedSize() does not.)
 */
function unlistCounts(index: ListIndex, list: string, keys: Set<string>, count: CategoryCounts): void {
  for (const key of keys) {
    const kind = key.startsWith('u ') ? 'url' : 'domain';
    const text = key.slice(2);
    const cut = kind === 'url' ? text.search(/[/?]/) : -1;
    const host = cut === -1 ? text : text.slice(0, cut);
    let target: Target;
    try {
      target = parseAbsoluteTarget(
        `http://${host.includes(':') ? `[${host}]` : host}${cut === -1 ? '/' : text.slice(cut)}`,
      );
    } catch {
      continue;
    }
    const held = index
      .match(target)
      .some(
        (m) =>
          m.list === list &&
          (kind === 'url'
            ? m.kind === 'url' && m.entry.toLowerCase() === text
            : m.kind !== 'url' && m.kind !== 'regex' && m.entry === text),
      );
    if (!held) continue;
    count.removed = (count.removed ?? 0) + 1;
    if (kind === 'url') count.urls--;
    else count.domains--;
  }
}

function categoryOrder(metas: readonly CategoryMeta[]): Map<string, number> {
  return new Map(metas.map((m, i) => [m.name, i]));
}

/** The lists an image describes, its overlay (if any) applied. */
export async function listsOfImage(image: LayeredImage, endpoints: EndpointTable): Promise<CategoryLists> {
  const base = (await CategoryListsBuilder.adopt(image)).build(endpoints);
  if (image.overlay === undefined) return base;
  const removed = new Map(image.overlay.removed.map(([c, keys]) => [c, new Set(keys)]));
  const overlay = new ListIndex(image.overlay.index);
  // No local layer to speak of (most schools): lookups cost what they did without one.
  if (overlay.footprint().hosts === 0 && removed.size === 0) return base;
  return layeredLists(base, overlay, removed);
}

/** `base` with the local additions in `overlay` and the un-listed keys in `removed` (see the top). */
export function layeredLists(
  base: CategoryLists,
  overlay: ListIndex,
  removed: ReadonlyMap<string, ReadonlySet<string>>,
): CategoryLists {
  const order = categoryOrder([...base.categories.values()]);
  const match = (target: Target): ListMatch[] => {
    let found = base.match(target);
    if (removed.size > 0 && found.some((m) => removed.has(m.list)))
      found = found.filter((m) => !isUnlisted(m, removed));
    const added = overlay.match(target);
    if (added.length === 0) return found;
    const seen = new Set(found.map(identity));
    for (const m of added) if (!seen.has(identity(m))) found.push(m);
    // Stable: among equals the base stays before the local layer.
    return found.sort(
      (a, b) =>
        rank(b) - rank(a) || kindRank(a) - kindRank(b) || (order.get(a.list) ?? 0) - (order.get(b.list) ?? 0),
    );
  };
  return Object.freeze({ categories: base.categories, endpoints: base.endpoints, match });
}

function isUnlisted(m: ListMatch, removed: ReadonlyMap<string, ReadonlySet<string>>): boolean {
  if (m.kind === 'regex') return false;
  const keys = removed.get(m.list);
  return keys !== undefined && keys.has(m.kind === 'url' ? `u ${m.entry.toLowerCase()}` : `d ${m.entry}`);
}

/** One entry of one list on one host: the full index holds it once (URL rules compared lower-cased). */
function identity(m: ListMatch): string {
  return `${m.list}\u0000${m.kind}\u0000${m.kind === 'url' ? m.entry.toLowerCase() : m.entry}`;
}

/** How specific the match's host is: its length (every host matched is a suffix of the same target). */
function rank(m: ListMatch): number {
  if (m.kind === 'regex') return -1;
  if (m.kind !== 'url') return m.entry.length;
  const cut = m.entry.search(/[/?]/);
  return cut === -1 ? m.entry.length : cut;
}

function kindRank(m: ListMatch): number {
  return m.kind === 'url' ? 1 : m.kind === 'regex' ? 2 : 0;
}
