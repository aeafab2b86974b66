/**
 * What a start or a reload decides with: the shipped category lists with the school's local layer above
 * them, the illegal-content tier, the profiles, the exceptions and the keyword lists.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  compileKeywords,
  keywordsLocalDir,
  loadKeywordLists,
  type LoadedKeywords,
} from '../alerts/keywords/index.js';
import { checkCategoryReferences } from '../config/category-references.js';
import { PACKAGE_ROOT, type ReadonlyConfig } from '../config/load.js';
import { buildProfiles } from '../config/profiles.js';
import { loadExceptionSet } from '../lists/exceptions.js';
import { loadIllegalTierOrBlockAll } from '../lists/illegal-tier-files.js';
import { shippedSize } from '../lists/load.js';
import { loadCategoriesOffThread, type OffThreadOptions } from '../lists/load-off-thread.js';
import { listsSnapshotDir } from '../lists/load-snapshot.js';
import { readLocalLayer } from '../lists/local-layer.js';
import { readProfileOverrides } from '../lists/profile-overrides.js';
import { readProviderLayer } from '../lists/provider-layer.js';
import type { IllegalTier } from '../policy/illegal-tier.js';
import { readLogo } from '../proxy/logo.js';
import type { LoadedPolicy } from './reload.js';

/** Shipped category lists with the school's local layer above them (src/lists/local-layer.ts). */
export async function loadPolicy(config: ReadonlyConfig, off: OffThreadOptions = {}): Promise<LoadedPolicy> {
  // On a worker thread: a reload of a million entries must not stall the requests being served.
  const loaded = await loadCategoriesOffThread(
    config.categoriesDir,
    {
      local: await readLocalLayer(config.dataDir),
      provider: await readProviderLayer(config.dataDir),
      limits: config.lists,
      // Start and reload read the built index from here while the list files are unchanged (issue 13).
      snapshotDir: listsSnapshotDir(config.dataDir),
    },
    off,
  );
  let entries = 0;
  for (const c of loaded.counts.values()) entries += c.domains + c.urls;
  // A broken tier file blocks everything here; a reload refuses such a tier instead (reload.ts).
  const illegal = await loadIllegalTierOrBlockAll(config);
  const overrides = await readProfileOverrides(config.dataDir);
  const profiles = buildProfiles(config, loaded.lists, overrides, loaded.warnings);
  checkCategoryReferences(config, loaded.lists, loaded.warnings);
  const keywords = await loadKeywords(config);
  for (const w of keywords.warnings) loaded.warnings.push(w);
  const { schoolName, contact, logoFile } = config.branding;
  return {
    keywords: compileKeywords(keywords.lists),
    config,
    branding: { schoolName, contact, logo: readLogo(logoFile) },
    // The tier and the exceptions ride with the lists into decide() (a new object: the loaded lists stay
    // frozen).
    lists: Object.freeze({
      ...loaded.lists,
      illegal,
      exceptions: await loadExceptionSet(
        config.dataDir,
        new Set(Object.keys(config.profiles)),
        loaded.warnings,
      ),
    }),
    profiles,
    warnings: loaded.warnings,
    entries,
    shippedSizes: new Map([...loaded.counts].map(([name, c]) => [name, shippedSize(c)])),
  };
}

/** The tier's state at start: unusable is an error (every request blocked), none a warning. */
export function logIllegalTier(tier: IllegalTier | undefined, logger: Logger): void {
  if (tier?.state === 'unusable')
    logger.error(
      { code: tier.code, cause: tier.message },
      'illegal-content tier unusable: EVERY request is blocked until a good copy is loaded (fail closed)',
    );
  else if (tier?.state === 'none')
    logger.warn(
      "illegal-content tier: no provider files loaded (IWF, CTIRU); see README 'The illegal-content tier'",
    );
  else if (tier)
    logger.info(
      { sources: tier.sources.map((s) => `${s.name}:${s.entries}`) },
      'illegal-content tier loaded',
    );
}

/**
 * The keyword lists: `<categoriesDir>/keywords` when the school's categories folder has one, else the
 * lists shipped with schoolgate (a categories folder of the school's own still gets alerts); the local
 * layer (`<dataDir>/keywords.local`) above either. A broken file refuses the start or the reload.
 */
async function loadKeywords(config: ReadonlyConfig): Promise<LoadedKeywords> {
  const own = path.join(config.categoriesDir, 'keywords');
  const shipped = existsSync(own) ? own : path.join(PACKAGE_ROOT, 'categories', 'keywords');
  return loadKeywordLists(shipped, keywordsLocalDir(config.dataDir));
}
