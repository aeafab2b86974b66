/**
 * Folders for the overlay's hostile tests (local-overlay.hostile*.test.ts): shipped, provider and local
 * files written as raw text, loaded both ways (a full rebuild from text, and the snapshot of the big layers
 * with the local layer over it, as start and reload load them), and compared target by target.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { loadCategories, type LoadOptions } from '../../../src/lists/load.js';
import { loadCategoriesImage } from '../../../src/lists/load-snapshot.js';
import { listsOfImage } from '../../../src/lists/local-overlay.js';
import { readLocalLayer } from '../../../src/lists/local-layer.js';
import type { InvalidLineLimit } from '../../../src/lists/limits.js';
import { decide } from '../../../src/policy/decide.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import type { Action, CategoryLists } from '../../../src/policy/types.js';
import { tempDir } from '../../helpers/schoolgate.js';
import { ENDPOINTS, profile, request } from '../policy/factories.js';

export type Files = Record<string, Partial<Record<'domains' | 'urls' | 'expressions' | 'removed', string>>>;

export interface Case {
  /** category → file → raw text (CRLF, comments and all), under categories/. */
  shipped: Files;
  provider?: Files;
  /** Categories the school created (categories.local/categories.yaml). */
  mine?: string[];
  local: Files;
  /** Targets and the action a school expects for each (the two loads must also agree on them). */
  expect: Record<string, Action>;
  /** More targets where only agreement is checked. */
  also?: string[];
  limits?: InvalidLineLimit;
}

export const SHIPPED = ['social', 'adult', 'games', 'edu'];
const NOW = new Date('2026-12-03T10:00:00Z');
// IP literals allowed: the lists, not the ip-literal rule, must decide an IP target here.
const pupil = profile({
  categories: { social: 'block', adult: 'block', games: 'warn', edu: 'allow', mine: 'block' },
  ipLiterals: 'allow',
});

const yaml = (names: string[]) =>
  names.map((n) => `${n}:\n  title: ${n}\n  description: test\n  flagged: false\n  alert: false\n`).join('');

export function writeFiles(root: string, files: Files): void {
  for (const [category, byName] of Object.entries(files))
    for (const [name, text] of Object.entries(byName)) {
      mkdirSync(path.join(root, category), { recursive: true });
      writeFileSync(path.join(root, category, name), text);
    }
}

export interface Loaded {
  full: CategoryLists;
  layered: CategoryLists;
  snapshot: string | undefined;
  warnings: { full: string[]; layered: string[] };
}

export async function setUp(c: Case): Promise<{ load: () => Promise<Loaded>; dataDir: string }> {
  const root = tempDir('sg-overlay-hostile-');
  const dir = path.join(root, 'categories');
  for (const name of SHIPPED) writeFiles(dir, { [name]: { domains: '' } });
  writeFileSync(path.join(dir, 'categories.yaml'), yaml(SHIPPED));
  writeFiles(dir, c.shipped);
  const providerDir = path.join(root, 'provider');
  writeFiles(providerDir, c.provider ?? {});
  const dataDir = path.join(root, 'data');
  const localDir = path.join(dataDir, 'categories.local');
  mkdirSync(localDir, { recursive: true });
  if (c.mine) writeFileSync(path.join(localDir, 'categories.yaml'), yaml(c.mine));
  writeFiles(localDir, c.local);
  const provider = { dir: providerDir, dirs: Object.keys(c.provider ?? {}).sort(), manifest: undefined };
  const load = async (): Promise<Loaded> => {
    const opts: LoadOptions = { local: await readLocalLayer(dataDir), provider, limits: c.limits };
    const full = await loadCategories(dir, opts);
    const loaded = await loadCategoriesImage(dir, {
      ...opts,
      snapshotDir: path.join(dataDir, 'lists-index'),
    });
    return {
      full: full.lists,
      layered: await listsOfImage(loaded.image, ENDPOINTS),
      snapshot: loaded.snapshot,
      warnings: { full: full.warnings, layered: loaded.warnings },
    };
  };
  return { load, dataDir };
}

export function answer(lists: CategoryLists, url: string) {
  return decide(request(url), pupil, lists, NOW);
}

/** Every target: the same matches, in order, and the same decision; then the school's expected action. */
export function agree(l: Loaded, c: Case): void {
  for (const url of [...Object.keys(c.expect), ...(c.also ?? [])]) {
    const target = parseAbsoluteTarget(url);
    expect(l.layered.match(target), url).toEqual(l.full.match(target));
    expect(answer(l.layered, url), url).toEqual(answer(l.full, url));
  }
  const actions = Object.fromEntries(Object.keys(c.expect).map((u) => [u, answer(l.layered, u).action]));
  expect(actions).toEqual(c.expect);
}

export async function check(c: Case): Promise<Loaded> {
  const { load } = await setUp(c);
  const first = await load();
  agree(first, c);
  const again = await load();
  expect(again.snapshot).toBe(first.snapshot === 'none' ? 'none' : 'read');
  agree(again, c);
  return again;
}

export const crlf = (lines: string[]) => lines.map((l) => `${l}\r\n`).join('');
export const lf = (lines: string[]) => lines.map((l) => `${l}\n`).join('');
