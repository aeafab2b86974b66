/**
 * `lists import` as the CLI and the console's imports page both run it: the import itself (import.ts:
 * validated first, a refused source writes nothing) and, when it changed the category, its row in the
 * admin-changes record. The caller reloads the running proxy.
 */
import type { ReadonlyConfig } from '../config/load.js';
import { withState } from '../state/store.js';
import { importList, type ImportFormat, type ImportProgress, type ImportSummary } from './import.js';

export interface RecordedImportOptions {
  format: ImportFormat;
  replace?: boolean | undefined;
  dryRun?: boolean | undefined;
  force?: boolean | undefined;
  /** The category does not exist yet (a dry run of `--create`). */
  newCategory?: boolean | undefined;
  onProgress?: ((p: ImportProgress) => void | Promise<void>) | undefined;
  reason?: string | undefined;
  by?: string | undefined;
  /** What the record names as the source (the console's upload has no path worth keeping). */
  sourceName?: string | undefined;
}

export async function importAndRecord(
  config: ReadonlyConfig,
  category: string,
  source: string,
  opts: RecordedImportOptions,
): Promise<ImportSummary> {
  const summary = await importList(
    { categoriesDir: config.categoriesDir, dataDir: config.dataDir },
    category,
    source,
    {
      format: opts.format,
      limits: config.lists,
      ...(opts.replace ? { replace: true } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
      ...(opts.force ? { force: true } : {}),
      ...(opts.newCategory ? { newCategory: true } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    },
  );
  if (!opts.dryRun && (summary.added > 0 || opts.replace))
    await withState(config.dataDir, (s) =>
      s.changes.record({
        action: 'lists.import',
        target: category,
        after: {
          source: opts.sourceName ?? source,
          format: opts.format,
          replace: opts.replace ?? false,
          added: summary.added,
          duplicate: summary.duplicate,
          invalid: summary.invalid,
          forced: opts.force ?? false,
        },
        reason: opts.reason,
        by: opts.by,
      }),
    );
  return summary;
}
