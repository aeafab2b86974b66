/**
 * `schoolgate lists update`: fetches lists.sources into the provider layer (src/lists/update/run.ts),
 * prints what changed per category, records the change and reloads a running proxy. It is the only
 * command that downloads lists, and it runs only when a technician types it (or at lists.updateAt).
 */
import type { Command } from 'commander';
import type { UpdateResult } from '../../lists/update/run.js';
import { runUpdate } from '../../lists/update/run.js';
import { withState } from '../../state/store.js';
import { configFrom, reloadAfterChange, withChangeOptions, withCommonOptions } from '../common.js';
import { examples, type Opts } from './lists.js';

type UpdateOpts = Opts & { dryRun?: boolean; force?: boolean };

export function registerListsUpdate(lists: Command): void {
  withChangeOptions(withCommonOptions(lists.command('update')))
    .description(
      'fetch the public lists in lists.sources (default: UT1) into the provider layer, show what changed, reload',
    )
    .option('--dry-run', 'fetch, check and compare, change nothing')
    .option(
      '--force',
      'apply even when a category shrinks by more than lists.maxShrinkShare, and import past the invalid-line limits',
    )
    .option('--json', 'JSON summary')
    .addHelpText(
      'after',
      examples(
        'schoolgate lists update --dry-run',
        'schoolgate lists update --reason "termly list refresh"',
      ) +
        '\n\nEntries go to the provider layer, between the shipped lists and your local edits: `lists remove`' +
        '\nun-lists a provider entry as it does a shipped one, and `lists add` entries stay whatever an update brings.' +
        '\nA failed download, a wrong checksum or a broken tarball changes nothing.',
    )
    .action(async (opts: UpdateOpts) => {
      const config = configFrom(opts);
      const result = await runUpdate(config, {
        ...(opts.dryRun ? { dryRun: true } : {}),
        ...(opts.force ? { force: true } : {}),
      });
      if (result.applied)
        await withState(config.dataDir, (s) =>
          s.changes.record({
            action: 'lists.update',
            target: result.sources.map((src) => src.name).join(','),
            before: result.previous ? { generation: result.previous } : null,
            after: {
              generation: result.generation,
              sources: result.sources.map(({ name, url, algorithm, checksum, bytes }) => ({
                name,
                url,
                checksum: `${algorithm}:${checksum}`,
                bytes,
              })),
              changes: result.changes,
              forcedShrink: result.forcedShrink,
            },
            reason: opts.reason,
            by: opts.by,
          }),
        );
      if (opts.json) {
        const reload = result.applied ? await reloadAfterChange(config.dataDir, true) : {};
        return void console.log(JSON.stringify({ ...result, dryRun: opts.dryRun ?? false, ...reload }));
      }
      for (const line of updateSummary(result)) console.log(line);
      if (result.applied) await reloadAfterChange(config.dataDir);
    });
}

/** Sources fetched, then per category: provider entries before and after, added and removed. */
export function updateSummary(r: UpdateResult): string[] {
  const out = r.sources.map(
    (s) => `fetched ${s.name}: ${s.url} (${s.bytes} bytes, ${s.algorithm} ${s.checksum} as published)`,
  );
  out.push(
    `${'category'.padEnd(20)} ${'before'.padStart(9)} ${'after'.padStart(9)} ${'added'.padStart(9)} ${'removed'.padStart(9)}  from`,
  );
  for (const [category, c] of Object.entries(r.changes)) {
    const from = r.imported
      .filter((i) => i.category === category)
      .map((i) => `${i.source}:${i.folder}`)
      .join(', ');
    out.push(
      `${category.padEnd(20)} ${String(c.before).padStart(9)} ${String(c.after).padStart(9)} ${`+${c.added}`.padStart(9)} ${`-${c.removed}`.padStart(9)}  ${from || '-'}`,
    );
  }
  const invalid = r.imported.filter((i) => i.invalid > 0);
  for (const i of invalid)
    out.push(`  ${i.source}:${i.folder}: ${i.invalid} invalid lines left out (public suffixes, ranges, ...)`);
  for (const l of r.leftOut)
    if (l.reason !== 'not-mapped') out.push(`not imported: ${l.source}:${l.folder} (${l.reason})`);
  const unmapped = r.leftOut.filter((l) => l.reason === 'not-mapped');
  if (unmapped.length > 0)
    out.push(
      `folders no map names (not imported; add them to lists.sources[].map to use them): ${unmapped.map((l) => `${l.source}:${l.folder}`).join(', ')}`,
    );
  for (const name of r.forcedShrink) out.push(`forced past the shrink check: ${name}`);
  out.push(
    r.applied
      ? `provider layer now ${r.generation}${r.previous ? ` (was ${r.previous})` : ''}`
      : 'dry run: nothing changed',
  );
  return out;
}
