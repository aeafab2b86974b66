/**
 * `schoolgate lists add|remove|new|delete|import`: the commands that change the local layer. Each validates
 * everything first (one bad entry changes nothing), records the change and reloads a running proxy.
 */
import { type Command, Option } from 'commander';
import { SchoolgateError } from '../../errors.js';
import { catalogue, requireCategory } from '../../lists/catalogue.js';
import { addEntries, deleteCategory, newCategory, removeEntries } from '../../lists/edit.js';
import { parseCliEntry, type ListEntry } from '../../lists/entry.js';
import {
  IMPORT_FORMATS,
  importReasonInWords,
  type ImportFormat,
  type ImportProgress,
  type ImportSummary,
} from '../../lists/import.js';
import { importAndRecord } from '../../lists/import-record.js';
import { checkCategoryName } from '../../lists/metadata.js';
import { readProfileOverrides } from '../../lists/profile-overrides.js';
import { effectiveProfiles } from '../../config/profiles.js';
import { withState } from '../../state/store.js';
import { configFrom, reloadAfterChange, withChangeOptions, withCommonOptions } from '../common.js';
import { checkBlockFor, enforceNewCategory, withBlockFor } from './block-for.js';
import { setCategoryAction } from './profiles.js';

import { registerImportTree } from './lists-import-tree.js';
import { registerListsUpdate } from './lists-update.js';
import { registerListsUncategorised } from './lists-uncategorised.js';
import { dirsOf, examples, type Opts } from './lists.js';
import { beginPolicyEdit } from '../policy-edit.js';

export function registerListEdits(lists: Command): void {
  withChangeOptions(withCommonOptions(lists.command('add')))
    .description('add domains or URL prefixes to a category (local layer); reloads a running proxy')
    .argument('<category>')
    .argument(
      '<entry...>',
      'domain (example.com), IP address, or URL prefix without scheme (example.com/path)',
    )
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples(
        'schoolgate lists add social newsocial.example --reason "pupils found it; ticket 123"',
        'schoolgate lists add streaming video.example/watch --by "J Smith (DSL)"',
      ),
    )
    .action(async (category: string, raw: string[], opts: Opts) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const entries = validateAll(raw);
      const results = await addEntries(dirsOf(config), category, entries);
      await record(config.dataDir, opts, 'lists.add', category, results, (r) => r.outcome !== 'duplicate');
      await report(
        config.dataDir,
        opts,
        results,
        results.some((r) => r.outcome !== 'duplicate'),
        (r) =>
          r.outcome === 'added'
            ? `added      ${r.entry} (local)`
            : r.outcome === 'relisted'
              ? `relisted   ${r.entry} (shipped entry no longer removed)`
              : `duplicate  ${r.entry} (already in ${r.layer})`,
      );
    });

  withChangeOptions(withCommonOptions(lists.command('remove')))
    .description('remove entries: deletes local ones, un-lists shipped ones (local "removed" file)')
    .argument('<category>')
    .argument('<entry...>')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples('schoolgate lists remove streaming www.bbc.co.uk --reason "needed for lessons"'),
    )
    .action(async (category: string, raw: string[], opts: Opts) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const entries = validateAll(raw);
      const results = await removeEntries(dirsOf(config), category, entries);
      await record(
        config.dataDir,
        opts,
        'lists.remove',
        category,
        results,
        (r) => r.outcome !== 'not-listed',
      );
      await report(
        config.dataDir,
        opts,
        results,
        results.some((r) => r.outcome !== 'not-listed'),
        (r) =>
          r.outcome === 'removed'
            ? `removed    ${r.entry} (local)`
            : r.outcome === 'unlisted'
              ? `unlisted   ${r.entry} (${r.layer}; recorded in the local removed file)`
              : `not listed ${r.entry}`,
      );
      if (results.every((r) => r.outcome === 'not-listed')) process.exitCode = 1;
    });

  withBlockFor(withChangeOptions(withCommonOptions(lists.command('new'))))
    .description('create a local category (--block-for: the profiles that block it)')
    .argument('<category>', 'name: letters, digits, dot, underscore, hyphen')
    .requiredOption('--title <text>', 'short name shown on block pages and reports')
    .option('--description <text>', 'one sentence: what is in it', '')
    .option('--flagged', 'matching requests appear in investigations')
    .option('--alert', 'a matching request raises a safeguarding alert')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples('schoolgate lists new exam-cheats --title "Exam cheating" --flagged --block-for pupil,guest'),
    )
    .action(
      async (
        name: string,
        opts: Opts & {
          title: string;
          description: string;
          flagged?: boolean;
          alert?: boolean;
          blockFor?: string[];
        },
      ) => {
        const config = configFrom(opts);
        await beginPolicyEdit(config.dataDir);
        checkBlockFor(config, opts.blockFor);
        checkCategoryName(name);
        const meta = {
          name,
          title: opts.title,
          description: opts.description,
          flagged: opts.flagged ?? false,
          alert: opts.alert ?? false,
        };
        await newCategory(dirsOf(config), meta);
        await withState(config.dataDir, (s) =>
          s.changes.record({
            action: 'lists.new',
            target: name,
            after: meta,
            reason: opts.reason,
            by: opts.by,
          }),
        );
        if (!opts.json) console.log(`created local category ${name} (${opts.title})`);
        const enforced = await enforceNewCategory(config, name, opts);
        const reload = await reloadAfterChange(config.dataDir, opts.json);
        if (opts.json) console.log(JSON.stringify({ created: meta, ...enforced, ...reload }));
      },
    );

  withChangeOptions(withCommonOptions(lists.command('delete')))
    .description('delete a local category (refuses while a profile uses it, unless --force)')
    .argument('<category>')
    .option('--force', 'delete even though a profile names it (the profile then fails to load until fixed)')
    .addHelpText('after', examples('schoolgate lists delete exam-cheats --reason "merged into tricheur"'))
    .action(async (name: string, opts: Opts & { force?: boolean }) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const overrides = await readProfileOverrides(config.dataDir);
      const users = Object.entries(effectiveProfiles(config, overrides).profiles)
        .filter(([, p]) => name in p.categories || p.timeWindows.some((w) => name in w.categories))
        .map(([n]) => n);
      const found = await requireCategory(dirsOf(config), name);
      if (found.layer === 'shipped') await deleteCategory(dirsOf(config), name); // refuses, saying why
      if (users.length > 0 && !opts.force)
        throw new SchoolgateError(
          'SG_CATEGORY_IN_USE',
          `profiles ${users.join(', ')} use category "${name}"`,
          {
            context: { category: name, profiles: users },
            suggestion: `remove it from those profiles first (the config file, or \`schoolgate profiles set <profile> ${name} clear\`), or pass --force`,
          },
        );
      const meta = await deleteCategory(dirsOf(config), name);
      await withState(config.dataDir, (s) =>
        s.changes.record({
          action: 'lists.delete',
          target: name,
          before: meta,
          reason: opts.reason,
          by: opts.by,
        }),
      );
      console.log(`deleted local category ${name}`);
      // `profiles set` entries for it would name a category that no longer exists: they go with it.
      const local = Object.keys(overrides).filter((p) => name in overrides[p]!.categories);
      if (local.length > 0) {
        await setCategoryAction(config, local, name, null, opts);
        console.log(`cleared ${name} from the local layer of profiles ${local.join(', ')}`);
      }
      await reloadAfterChange(config.dataDir);
    });

  withBlockFor(withChangeOptions(withCommonOptions(lists.command('import'))))
    .description('import a public list into a category’s local layer')
    .argument('<category>')
    .argument('<source>', 'a file, or a squidGuard/UT1 category directory')
    .addOption(new Option('--format <format>', 'source format').choices(IMPORT_FORMATS).makeOptionMandatory())
    .option('--replace', 'replace the category’s local entries instead of adding to them')
    .option('--create', 'create the category (local, title = name) if it does not exist')
    .option('--dry-run', 'count what would change, write nothing')
    .option(
      '--force',
      'import the valid lines even though more than lists.maxInvalidLines/maxInvalidShare are invalid (a source that is not UTF-8 text is always refused)',
    )
    .option('--json', 'JSON summary')
    .addHelpText(
      'after',
      examples(
        'schoolgate lists import gambling /srv/ut1/gambling --format squidguard',
        'schoolgate lists import social hosts.txt --format hosts --replace',
        'schoolgate lists import vpn /srv/ut1/vpn --format squidguard --create --block-for pupil,guest',
        'schoolgate lists import vpn list.txt --format adblock --create --dry-run',
      ),
    )
    .action(
      async (
        category: string,
        source: string,
        opts: Opts & {
          format: ImportFormat;
          replace?: boolean;
          create?: boolean;
          dryRun?: boolean;
          force?: boolean;
          blockFor?: string[];
        },
      ) => {
        const config = configFrom(opts);
        await beginPolicyEdit(config.dataDir);
        checkBlockFor(config, opts.blockFor);
        const dirs = dirsOf(config);
        const known = await catalogue(dirs);
        const missing = !known.has(category) && opts.create === true;
        if (missing) checkCategoryName(category);
        // A dry run creates nothing: it counts against the empty category it would create.
        const create = missing && !opts.dryRun;
        if (create) {
          await newCategory(dirs, {
            name: category,
            title: category,
            description: `imported from ${source}`,
            flagged: false,
            alert: false,
          });
        }
        const progress = process.stderr.isTTY && !opts.json ? progressLine(category) : undefined;
        const summary = await importAndRecord(config, category, source, {
          format: opts.format,
          replace: opts.replace,
          dryRun: opts.dryRun,
          force: opts.force,
          newCategory: missing && opts.dryRun,
          onProgress: progress,
          reason: opts.reason,
          by: opts.by,
        }).catch(async (err: unknown) => {
          // A refused import changes nothing, so the category made for it goes too.
          if (create) await deleteCategory(dirs, category);
          throw err;
        });
        // A new category asks who blocks it; an existing one is changed only when --block-for says so.
        const enforced =
          create || (opts.blockFor?.length && !opts.dryRun)
            ? await enforceNewCategory(config, category, opts)
            : undefined;
        if (opts.json) {
          const reload = opts.dryRun ? {} : await reloadAfterChange(config.dataDir, true);
          return void console.log(
            JSON.stringify({ ...summary, dryRun: opts.dryRun ?? false, ...enforced, ...reload }),
          );
        }
        console.log(
          `${opts.dryRun ? 'would import' : 'imported'} into ${category}${missing && opts.dryRun ? ' (a new category)' : ''}: ${summary.added} added, ${summary.duplicate} duplicate, ${summary.invalid} invalid, ${summary.skipped} skipped (${summary.lines} lines)`,
        );
        for (const line of describeSkips(summary)) console.log(line);
        if (!opts.dryRun) await reloadAfterChange(config.dataDir);
      },
    );

  registerImportTree(lists);
  registerListsUpdate(lists);
  registerListsUncategorised(lists);
}

/** Invalid and skipped lines by reason, then the first few of each with file and line number. */
export function describeSkips(summary: ImportSummary): string[] {
  const out: string[] = [];
  const byReason = (label: string, counts: Record<string, number>) => {
    for (const [reason, n] of Object.entries(counts).sort((a, b) => b[1] - a[1]))
      out.push(`  ${label} ${String(n).padStart(7)}  ${reason}: ${importReasonInWords(reason)}`);
  };
  if (summary.hostOnly > 0)
    out.push(
      `  note ${summary.hostOnly === 1 ? '1 entry is a public suffix' : `${summary.hostOnly} entries are public suffixes`} (github.io, dyndns.org): each covers that host only, never the sites under it`,
    );
  byReason('invalid', summary.invalidBy);
  byReason('skipped', summary.skippedBy);
  for (const bad of summary.invalidLines)
    out.push(`  invalid ${bad.file}:${bad.line}: ${JSON.stringify(bad.text)} (${bad.reason})`);
  if (summary.invalid > summary.invalidLines.length)
    out.push(`  ... and ${summary.invalid - summary.invalidLines.length} more invalid lines`);
  for (const s of summary.skippedLines)
    out.push(`  skipped ${s.file}:${s.line}: ${JSON.stringify(s.text)} (${s.reason})`);
  return out;
}

/** Validates every argument first: one bad entry changes nothing. */
function validateAll(raw: readonly string[]): ListEntry[] {
  return raw.map((r) => parseCliEntry(r));
}

async function record<R extends { entry: string; outcome: string; layer: string | null }>(
  dataDir: string,
  opts: Opts,
  action: string,
  category: string,
  results: R[],
  changed: (r: R) => boolean,
): Promise<void> {
  const rows = results.filter(changed);
  if (rows.length === 0) return;
  await withState(dataDir, (s) =>
    s.transaction(() => {
      for (const r of rows)
        s.changes.record({
          action,
          target: `${category}: ${r.entry}`,
          before:
            action === 'lists.add'
              ? r.outcome === 'relisted'
                ? 'removed'
                : null
              : { layer: r.layer, listed: true },
          after:
            action === 'lists.add'
              ? { layer: r.layer, listed: true }
              : r.outcome === 'unlisted'
                ? 'removed'
                : null,
          reason: opts.reason,
          by: opts.by,
        });
    }),
  );
}

async function report<R>(
  dataDir: string,
  opts: Opts,
  results: R[],
  changed: boolean,
  line: (r: R) => string,
): Promise<void> {
  if (!opts.json) for (const r of results) console.log(line(r));
  const reload = changed ? await reloadAfterChange(dataDir, opts.json) : { reloaded: false };
  if (opts.json) console.log(JSON.stringify({ results, ...reload }));
}

/** A single updating line on a terminal: no dependency needed for one line of text. */
function progressLine(category: string): (p: ImportProgress) => void {
  let last = 0;
  return (p) => {
    const done = p.file === '';
    const now = Date.now();
    if (!done && now - last < 100) return;
    last = now;
    const pct = p.bytesTotal > 0 ? Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100)) : 100;
    const width = 30;
    const bar = '#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.');
    process.stderr.write(
      `\r${category} [${bar}] ${String(pct).padStart(3)}% ${p.lines} lines${done ? '\n' : ''}`,
    );
  };
}
