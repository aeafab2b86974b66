/**
 * `schoolgate lists`: the category lists, shipped and local. Edits go to the local layer under the data
 * directory (src/lists/local-layer.ts); every command says which layer an entry comes from; every change is
 * recorded in the admin-changes table and reloads a running proxy.
 */
import { type Command, Option } from 'commander';
import { loadPolicy } from '../../app/start.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import { catalogue, forEachEntry, layerKeys, requireCategory, type Dirs } from '../../lists/catalogue.js';
import { addEntries, deleteCategory, newCategory, removeEntries } from '../../lists/edit.js';
import { anyLineKey, parseCliEntry, type ListEntry } from '../../lists/entry.js';
import { IMPORT_FORMATS, importList, type ImportFormat, type ImportProgress } from '../../lists/import.js';
import { loadCategories } from '../../lists/load.js';
import { localFile, readLines, readLocalLayer } from '../../lists/local-layer.js';
import { compileEntryList } from '../../policy/lists.js';
import { CATEGORY_NAME } from '../../lists/metadata.js';
import { parseAbsoluteTarget } from '../../policy/target.js';
import { withState } from '../../state/store.js';
import {
  configFrom,
  reloadAfterChange,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';

type Opts = CommonOptions & ChangeOptions & { json?: boolean };

function dirsOf(config: ReadonlyConfig): Dirs {
  return { categoriesDir: config.categoriesDir, dataDir: config.dataDir };
}

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

export function registerLists(program: Command): void {
  const lists = program
    .command('lists')
    .description('category lists: shipped defaults plus this school’s local layer')
    .addHelpText(
      'after',
      examples(
        'schoolgate lists categories',
        'schoolgate lists find https://m.facebook.com/',
        'schoolgate lists add social example.com --reason "ticket 123"',
        'schoolgate lists import gambling ./ut1/gambling --format squidguard',
      ),
    );

  withCommonOptions(lists.command('categories'))
    .description('every category with its title, layer, counts of domains/URLs and flags')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples('schoolgate lists categories', 'schoolgate lists categories --json | jq .'),
    )
    .action(async (opts: Opts) => {
      const config = configFrom(opts);
      const loaded = await loadCategories(config.categoriesDir, {
        local: await readLocalLayer(config.dataDir),
      });
      const rows = [...loaded.lists.categories.values()].map((m) => {
        const c = loaded.counts.get(m.name)!;
        return {
          name: m.name,
          title: m.title,
          layer: c.layer ?? 'shipped',
          domains: c.domains,
          urls: c.urls,
          local: c.local ?? { domains: 0, urls: 0 },
          removed: c.removed ?? 0,
          invalid: c.invalid,
          flagged: m.flagged,
          alert: m.alert,
        };
      });
      if (opts.json) return void console.log(JSON.stringify(rows));
      console.log(
        `${'category'.padEnd(20)} ${'layer'.padEnd(8)} ${'domains'.padStart(9)} ${'urls'.padStart(7)} ${'local+'.padStart(7)} ${'removed'.padStart(7)}  flags         title`,
      );
      for (const r of rows) {
        const flags = [r.flagged ? 'flagged' : '', r.alert ? 'alert' : ''].filter(Boolean).join(',') || '-';
        console.log(
          `${r.name.padEnd(20)} ${r.layer.padEnd(8)} ${String(r.domains).padStart(9)} ${String(r.urls).padStart(7)} ${String(r.local.domains + r.local.urls).padStart(7)} ${String(r.removed).padStart(7)}  ${flags.padEnd(13)} ${r.title}`,
        );
      }
      for (const w of loaded.warnings.slice(0, 10)) console.error(`warning: ${w}`);
    });

  withCommonOptions(lists.command('show'))
    .description('the entries of a category, each with its layer (shipped, local, or removed locally)')
    .argument('<category>')
    .option('--grep <text>', 'only entries containing this text')
    .addOption(new Option('--layer <layer>', 'only this layer').choices(['shipped', 'local']))
    .option('--json', 'one JSON object a line')
    .addHelpText(
      'after',
      examples('schoolgate lists show social --grep face', 'schoolgate lists show social --layer local'),
    )
    .action(async (category: string, opts: Opts & { grep?: string; layer?: 'shipped' | 'local' }) => {
      const dirs = dirsOf(configFrom(opts));
      await requireCategory(dirs, category);
      const grep = opts.grep?.toLowerCase();
      await forEachEntry(dirs, category, 'shipped', (e) => {
        if (opts.layer && e.layer !== opts.layer) return;
        if (grep && !e.entry.toLowerCase().includes(grep)) return;
        if (opts.json) console.log(JSON.stringify(e));
        else console.log(`${(e.removed ? 'removed' : e.layer).padEnd(8)} ${e.kind.padEnd(6)} ${e.entry}`);
      });
    });

  withCommonOptions(lists.command('find'))
    .description('which categories and entries match a domain or URL (the matcher decide() uses)')
    .argument('<domain-or-url>')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples('schoolgate lists find m.facebook.com', 'schoolgate lists find https://example.com/path?q=1'),
    )
    .action(async (input: string, opts: Opts) => {
      const config = configFrom(opts);
      const dirs = dirsOf(config);
      let target;
      try {
        target = parseAbsoluteTarget(/^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `http://${input}`);
      } catch (err) {
        throw new SchoolgateError(
          'SG_ENTRY_INVALID',
          `"${input}" is not a domain or URL: ${(err as Error).message}`,
          {
            suggestion: 'give a host name (example.com) or a URL (https://example.com/path)',
          },
        );
      }
      const policy = await loadPolicy(config);
      const matches: { category: string; entry: string; kind: string; layer: string }[] = [];
      for (const m of policy.lists.match(target)) {
        const local = await layerKeys(dirs, m.list, 'local');
        const key = anyLineKey(m.entry);
        matches.push({
          category: m.list,
          entry: m.entry,
          kind: m.kind,
          layer: key && local.has(key) ? 'local' : 'shipped',
        });
      }
      // Shipped entries the school un-listed that would match: often the answer to "why is it not blocked?"
      for (const category of (await readLocalLayer(config.dataDir)).removed.keys()) {
        const lines = await readLines(localFile(config.dataDir, category, 'removed'));
        for (const m of compileEntryList(category, lines).match(target))
          matches.push({ category, entry: m.entry, kind: m.kind, layer: 'removed' });
      }
      if (opts.json)
        return void console.log(JSON.stringify({ input, host: target.host, path: target.path, matches }));
      if (matches.length === 0) return void console.log(`${input}: in no category`);
      if (matches.some((m) => m.layer === 'removed'))
        console.log('("removed": a shipped entry this school un-listed, so it does not match)');
      for (const m of matches)
        console.log(`${m.category.padEnd(20)} ${m.layer.padEnd(8)} ${m.kind.padEnd(6)} ${m.entry}`);
    });

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
              ? `unlisted   ${r.entry} (shipped; recorded in the local removed file)`
              : `not listed ${r.entry}`,
      );
      if (results.every((r) => r.outcome === 'not-listed')) process.exitCode = 1;
    });

  withChangeOptions(withCommonOptions(lists.command('new')))
    .description('create a local category')
    .argument('<category>', 'name: letters, digits, dot, underscore, hyphen')
    .requiredOption('--title <text>', 'short name shown on block pages and reports')
    .option('--description <text>', 'one sentence: what is in it', '')
    .option('--flagged', 'matching requests appear in investigations')
    .option('--alert', 'a matching request raises a safeguarding alert')
    .option('--json', 'JSON output')
    .addHelpText('after', examples('schoolgate lists new exam-cheats --title "Exam cheating" --flagged'))
    .action(
      async (
        name: string,
        opts: Opts & { title: string; description: string; flagged?: boolean; alert?: boolean },
      ) => {
        const config = configFrom(opts);
        if (!CATEGORY_NAME.test(name))
          throw new SchoolgateError('SG_ARGUMENT_INVALID', `"${name}" is not a category name`, {
            suggestion: 'use letters, digits, dot, underscore and hyphen, starting with a letter or digit',
          });
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
        const reload = await reloadAfterChange(config.dataDir, opts.json);
        if (opts.json) console.log(JSON.stringify({ created: meta, ...reload }));
      },
    );

  withChangeOptions(withCommonOptions(lists.command('delete')))
    .description('delete a local category (refuses while a profile uses it, unless --force)')
    .argument('<category>')
    .option('--force', 'delete even though a profile names it (the profile then fails to load until fixed)')
    .addHelpText('after', examples('schoolgate lists delete exam-cheats --reason "merged into tricheur"'))
    .action(async (name: string, opts: Opts & { force?: boolean }) => {
      const config = configFrom(opts);
      const users = Object.entries(config.profiles)
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
            suggestion: 'remove it from those profiles in the config first, or pass --force',
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
      await reloadAfterChange(config.dataDir);
    });

  withChangeOptions(withCommonOptions(lists.command('import')))
    .description('import a public list into a category’s local layer')
    .argument('<category>')
    .argument('<source>', 'a file, or a squidGuard/UT1 category directory')
    .addOption(new Option('--format <format>', 'source format').choices(IMPORT_FORMATS).makeOptionMandatory())
    .option('--replace', 'replace the category’s local entries instead of adding to them')
    .option('--create', 'create the category (local, title = name) if it does not exist')
    .option('--dry-run', 'count what would change, write nothing')
    .option('--json', 'JSON summary')
    .addHelpText(
      'after',
      examples(
        'schoolgate lists import gambling /srv/ut1/gambling --format squidguard',
        'schoolgate lists import social hosts.txt --format hosts --replace',
        'schoolgate lists import vpn list.txt --format adblock --create --dry-run',
      ),
    )
    .action(
      async (
        category: string,
        source: string,
        opts: Opts & { format: ImportFormat; replace?: boolean; create?: boolean; dryRun?: boolean },
      ) => {
        const config = configFrom(opts);
        const dirs = dirsOf(config);
        const known = await catalogue(dirs);
        if (!known.has(category) && opts.create && !opts.dryRun) {
          if (!CATEGORY_NAME.test(category))
            throw new SchoolgateError('SG_ARGUMENT_INVALID', `"${category}" is not a category name`);
          await newCategory(dirs, {
            name: category,
            title: category,
            description: `imported from ${source}`,
            flagged: false,
            alert: false,
          });
        }
        const progress = process.stderr.isTTY && !opts.json ? progressLine(category) : undefined;
        const summary = await importList(dirs, category, source, {
          format: opts.format,
          ...(opts.replace ? { replace: true } : {}),
          ...(opts.dryRun ? { dryRun: true } : {}),
          ...(progress ? { onProgress: progress } : {}),
        });
        if (!opts.dryRun && (summary.added > 0 || opts.replace))
          await withState(config.dataDir, (s) =>
            s.changes.record({
              action: 'lists.import',
              target: category,
              after: {
                source,
                format: opts.format,
                replace: opts.replace ?? false,
                added: summary.added,
                duplicate: summary.duplicate,
                invalid: summary.invalid,
              },
              reason: opts.reason,
              by: opts.by,
            }),
          );
        if (opts.json) {
          const reload = opts.dryRun ? {} : await reloadAfterChange(config.dataDir, true);
          return void console.log(JSON.stringify({ ...summary, dryRun: opts.dryRun ?? false, ...reload }));
        }
        console.log(
          `${opts.dryRun ? 'would import' : 'imported'} into ${category}: ${summary.added} added, ${summary.duplicate} duplicate, ${summary.invalid} invalid, ${summary.skipped} skipped (${summary.lines} lines)`,
        );
        for (const bad of summary.invalidLines)
          console.log(`  invalid ${bad.file}:${bad.line}: ${JSON.stringify(bad.text)} (${bad.reason})`);
        if (summary.invalid > summary.invalidLines.length)
          console.log(`  ... and ${summary.invalid - summary.invalidLines.length} more invalid lines`);
        if (!opts.dryRun) await reloadAfterChange(config.dataDir);
      },
    );

  withCommonOptions(lists.command('export'))
    .description('print a category’s effective entries (shipped minus removed, plus local)')
    .argument('<category>')
    .addOption(
      new Option('--format <format>', 'output format')
        .choices(['plain', 'hosts', 'adblock'])
        .default('plain'),
    )
    .addOption(new Option('--layer <layer>', 'only this layer').choices(['shipped', 'local']))
    .addHelpText(
      'after',
      examples(
        'schoolgate lists export social > social.txt',
        'schoolgate lists export social --format adblock --layer local',
      ),
    )
    .action(
      async (
        category: string,
        opts: Opts & { format: 'plain' | 'hosts' | 'adblock'; layer?: 'shipped' | 'local' },
      ) => {
        const dirs = dirsOf(configFrom(opts));
        await requireCategory(dirs, category);
        const out: string[] = [];
        let skipped = 0;
        const flush = () => {
          if (out.length) process.stdout.write(`${out.join('\n')}\n`);
          out.length = 0;
        };
        await forEachEntry(dirs, category, 'shipped', (e) => {
          if (e.removed || (opts.layer && e.layer !== opts.layer)) return;
          if (opts.format === 'hosts' && e.kind === 'url') return void skipped++;
          out.push(
            opts.format === 'hosts'
              ? `0.0.0.0 ${e.entry}`
              : opts.format === 'adblock'
                ? `||${e.entry}${e.kind === 'domain' ? '^' : ''}`
                : e.entry,
          );
          if (out.length >= 10_000) flush();
        });
        flush();
        if (skipped)
          console.error(`note: ${skipped} URL entries left out (a hosts file holds host names only)`);
      },
    );
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
