/**
 * `schoolgate lists`: the category lists, shipped and local. Edits go to the local layer under the data
 * directory (src/lists/local-layer.ts); every command says which layer an entry comes from; every change is
 * recorded in the admin-changes table and reloads a running proxy.
 */
import { type Command, Option } from 'commander';
import { loadPolicy } from '../../app/start.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import { forEachEntry, layerKeys, providerHolds, requireCategory, type Dirs } from '../../lists/catalogue.js';
import { anyLineKey } from '../../lists/entry.js';
import { loadCategories } from '../../lists/load.js';
import { localFile, readLines, readLocalLayer } from '../../lists/local-layer.js';
import { readProviderLayer } from '../../lists/provider-layer.js';
import { effectiveProfiles } from '../../config/profiles.js';
import { readProfileOverrides } from '../../lists/profile-overrides.js';
import { compileEntryList } from '../../policy/lists.js';
import { parseAbsoluteTarget } from '../../policy/target.js';
import { registerListEdits } from './lists-edit.js';
import { configFrom, withCommonOptions, type ChangeOptions, type CommonOptions } from '../common.js';

export type Opts = CommonOptions & ChangeOptions & { json?: boolean };

export function dirsOf(config: ReadonlyConfig): Dirs {
  return { categoriesDir: config.categoriesDir, dataDir: config.dataDir };
}

export function examples(...lines: string[]): string {
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
        provider: await readProviderLayer(config.dataDir),
      });
      const profiles = effectiveProfiles(config, await readProfileOverrides(config.dataDir)).profiles;
      // A category is enforced by a profile that blocks or warns on it (its own entry, else its default).
      const enforcedBy = (category: string) =>
        Object.entries(profiles)
          .filter(([, p]) => (p.categories[category] ?? p.default) !== 'allow')
          .map(([name]) => name);
      // Banking and health are listed to be left alone (never inspected), not to be blocked: that is a use.
      const exempted = new Set([
        ...config.tls.neverInspect.categories,
        ...Object.values(profiles).flatMap((p) => p.neverInspect),
      ]);
      const rows = [...loaded.lists.categories.values()].map((m) => {
        const c = loaded.counts.get(m.name)!;
        return {
          name: m.name,
          title: m.title,
          layer: c.layer ?? 'shipped',
          domains: c.domains,
          urls: c.urls,
          expressions: c.expressions ?? 0,
          local: c.local ?? { domains: 0, urls: 0 },
          removed: c.removed ?? 0,
          invalid: c.invalid,
          flagged: m.flagged,
          alert: m.alert,
          enforcedBy: enforcedBy(m.name),
          unenforced: enforcedBy(m.name).length === 0 && !exempted.has(m.name),
        };
      });
      if (opts.json) return void console.log(JSON.stringify(rows));
      console.log(
        `${'category'.padEnd(20)} ${'layer'.padEnd(8)} ${'domains'.padStart(9)} ${'urls'.padStart(7)} ${'local+'.padStart(7)} ${'removed'.padStart(7)}  ${'flags'.padEnd(20)} title`,
      );
      for (const r of rows) {
        const flags =
          [r.unenforced ? 'UNENFORCED' : '', r.flagged ? 'flagged' : '', r.alert ? 'alert' : '']
            .filter(Boolean)
            .join(',') || '-';
        console.log(
          `${r.name.padEnd(20)} ${r.layer.padEnd(8)} ${String(r.domains).padStart(9)} ${String(r.urls).padStart(7)} ${String(r.local.domains + r.local.urls).padStart(7)} ${String(r.removed).padStart(7)}  ${flags.padEnd(20)} ${r.title}`,
        );
      }
      const unenforced = rows.filter((r) => r.unenforced).map((r) => r.name);
      if (unenforced.length > 0)
        console.log(
          `\nUNENFORCED: no profile blocks or warns on ${unenforced.join(', ')}; every profile allows them.` +
            ` Block one with \`schoolgate profiles set <profile> <category> block\`.`,
        );
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
        const key = anyLineKey(m.entry) ?? '';
        const isLocal =
          m.kind === 'regex'
            ? (await readLines(localFile(config.dataDir, m.list, 'expressions'))).some(
                (l) => l.trim() === m.entry,
              )
            : (await layerKeys(dirs, m.list, 'local')).has(key);
        // Not local and not in the shipped files: the provider layer's (`lists update`).
        const fromProvider =
          !isLocal &&
          m.kind !== 'regex' &&
          !(await layerKeys(dirs, m.list, 'shipped')).has(key) &&
          (await providerHolds(dirs, m.list, new Set([key]))).has(key);
        matches.push({
          category: m.list,
          entry: m.entry,
          kind: m.kind,
          layer: isLocal ? 'local' : fromProvider ? 'provider' : 'shipped',
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

  registerListEdits(lists);

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
