/**
 * Loads the category lists as an image (what the lists worker posts), through the snapshot of the built
 * index in the data directory when there is one for exactly these files (snapshot-key.ts), else from the
 * list files as fillCategories() reads them, writing a new snapshot for the next start or reload.
 *
 * The snapshot holds the big layers only (shipped and provider): the school's local layer is read over it
 * at every load as a small overlay (local-overlay.ts), so a `lists add/remove` and reload reads the same
 * snapshot instead of rebuilding a million entries from text.
 *
 * The snapshot is a cache and never a reason to fail: a damaged one is ignored, rebuilt and reported in
 * the warnings (logged at start and reload); one that cannot be written leaves the load as it was, with a
 * warning. Only the list files themselves can make a load fail, as before.
 */
import path from 'node:path';
import type { LoadedCategories, LoadOptions } from './load.js';
import {
  decodeSnapshot,
  encodeSnapshot,
  readSnapshot,
  SNAPSHOT_FILE,
  writeSnapshot,
} from './snapshot-file.js';
import { snapshotKey } from './snapshot-key.js';
import { overlayLocalLayer, type LayeredImage } from './local-overlay.js';

/** Where start and reload keep the snapshot: a private folder of the data directory. */
export function listsSnapshotDir(dataDir: string): string {
  return path.join(dataDir, 'lists-index');
}

export interface LoadedImage extends Omit<LoadedCategories, 'lists'> {
  image: LayeredImage;
  /** How the snapshot served: read, written after a build, or not used (no snapshotDir, or a fault). */
  snapshot: 'read' | 'written' | 'none';
}

export async function loadCategoriesImage(dir: string, opts: LoadOptions = {}): Promise<LoadedImage> {
  const local = opts.local;
  // `only` may name a local category, which a base without the local layer does not have: built whole.
  if (local === undefined || opts.snapshotDir === undefined || opts.only !== undefined)
    return loadBaseImage(dir, opts);
  const base = await loadBaseImage(dir, { ...opts, local: undefined });
  const layered = await overlayLocalLayer(dir, base, local, opts);
  if (layered === undefined) return { ...(await build(dir, opts)), snapshot: 'none' };
  return { ...layered, snapshot: base.snapshot };
}

/** The image of exactly the layers in `opts`, through the snapshot keyed on them. */
async function loadBaseImage(dir: string, opts: LoadOptions): Promise<LoadedImage> {
  const snapshotDir = opts.snapshotDir;
  if (snapshotDir === undefined) return { ...(await build(dir, opts)), snapshot: 'none' };
  const file = path.join(snapshotDir, SNAPSHOT_FILE);
  const notes: string[] = [];
  let key: Buffer | undefined;
  try {
    key = snapshotKey(dir, opts);
  } catch (err) {
    notes.push(
      `lists index snapshot not used: the list files could not be hashed (${(err as Error).message})`,
    );
  }
  if (key !== undefined) {
    const read = readSnapshot(snapshotDir, key);
    if (read.state === 'used') return { ...read.content, snapshot: 'read' };
    if (read.state === 'damaged')
      notes.push(
        `lists index snapshot ${file} is damaged (${read.why}): ignored, rebuilt from the list files`,
      );
  }
  const built = await build(dir, opts);
  if (key === undefined) return { ...built, warnings: [...notes, ...built.warnings], snapshot: 'none' };
  const bytes = encodeSnapshot(key, built);
  let snapshot: LoadedImage['snapshot'] = 'written';
  try {
    writeSnapshot(snapshotDir, bytes);
  } catch (err) {
    snapshot = 'none';
    notes.push(`lists index snapshot ${file} could not be written (${(err as Error).message})`);
  }
  // Served from the snapshot's one buffer, not the builder's arrays: one allocation to free at the next
  // reload (snapshot-file.ts says why that matters for RSS), and the encoding is checked on the way.
  const decoded = decodeSnapshot(bytes, key);
  if (decoded.state !== 'used') {
    notes.push(`lists index snapshot ${file} does not decode as written (${decoded.state}): not used`);
    return { ...built, warnings: [...notes, ...built.warnings], snapshot: 'none' };
  }
  return { ...decoded.content, warnings: [...notes, ...decoded.content.warnings], snapshot };
}

async function build(dir: string, opts: LoadOptions): Promise<Omit<LoadedImage, 'snapshot'>> {
  // Imported only to build: the parsers and the loader's imports (the config schema among them) cost a
  // worker ~0.5 s of CPU to load, several times what reading a snapshot costs.
  const { CategoryListsBuilder } = await import('../policy/lists.js');
  const { fillCategories } = await import('./load.js');
  const builder = new CategoryListsBuilder();
  const { counts, warnings } = await fillCategories(builder, dir, opts);
  return { image: builder.image(), counts, warnings };
}
