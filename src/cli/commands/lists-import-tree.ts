/**
 * `schoolgate lists import-tree <folder>`: a whole UT1 or squidGuard blacklist tree (src/lists/import-tree.ts)
 * with one progress line on a terminal and a summary table; one admin-change record and one reload.
 */
import type { Command } from 'commander';
import {
  parseMap,
  planTree,
  runTree,
  type TreePlan,
  type TreeProgress,
  type TreeResult,
} from '../../lists/import-tree.js';
import { importReasonInWords } from '../../lists/import.js';
import { renderError } from '../../errors.js';
import { withState } from '../../state/store.js';
import { configFrom, reloadAfterChange, withChangeOptions, withCommonOptions } from '../common.js';
import { dirsOf, examples, type Opts } from './lists.js';
import { beginPolicyEdit } from '../policy-edit.js';

type TreeOpts = Opts & { only?: string; map?: string[]; dryRun?: boolean; force?: boolean };

export function registerImportTree(lists: Command): void {
  withChangeOptions(withCommonOptions(lists.command('import-tree')))
    .description(
      'import a whole UT1 or squidGuard blacklist tree: each category folder into the category of the same name (created when missing)',
    )
    .argument('<folder>', 'the folder holding the category folders (UT1: blacklists/)')
    .option('--only <names>', 'only these category folders, comma-separated (names in the tree)')
    .option(
      '--map <pairs...>',
      'import a folder into another category: tree-name=our-name (repeat, or comma-separate)',
    )
    .option('--dry-run', 'count what would change, write nothing')
    .option('--force', 'import the valid lines of a folder even past lists.maxInvalidLines/maxInvalidShare')
    .option('--json', 'JSON summary')
    .addHelpText(
      'after',
      examples(
        'schoolgate lists import-tree /srv/blacklists --dry-run',
        'schoolgate lists import-tree /srv/blacklists --only adult,gambling,vpn --map porn=adult',
        'schoolgate lists import-tree /srv/blacklists --map sect=extremism --reason "termly UT1 update"',
      ) +
        '\n\nUT1 categories whose usage file says "white" (sites to allow) are not imported, nor alias folders' +
        '\n(porn -> adult); both are listed with the reason. expressions files become URL regex rules.',
    )
    .action(async (folder: string, opts: TreeOpts) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const dirs = dirsOf(config);
      const only = opts.only
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const plan = await planTree(folder, {
        ...(only ? { only } : {}),
        map: parseMap(opts.map ?? []),
      });
      const progress = process.stderr.isTTY && !opts.json ? progressLine() : undefined;
      const results = await runTree(dirs, plan, {
        limits: config.lists,
        ...(opts.dryRun ? { dryRun: true } : {}),
        ...(opts.force ? { force: true } : {}),
        ...(progress ? { onProgress: progress } : {}),
      });
      progress?.(undefined);
      const changed = results.filter((r) => 'summary' in r && r.summary.added > 0);
      if (!opts.dryRun && changed.length > 0)
        await withState(config.dataDir, (s) =>
          s.changes.record({
            action: 'lists.import-tree',
            target: folder,
            after: {
              categories: Object.fromEntries(
                results.map((r) => [
                  r.category.target,
                  'summary' in r
                    ? { from: r.category.name, added: r.summary.added, invalid: r.summary.invalid }
                    : { from: r.category.name, refused: r.error.code },
                ]),
              ),
              notImported: plan.notImported.map((n) => n.name),
              forced: opts.force ?? false,
            },
            reason: opts.reason,
            by: opts.by,
          }),
        );
      if (results.some((r) => 'error' in r)) process.exitCode = 1;
      if (opts.json) {
        const reload =
          opts.dryRun || changed.length === 0 ? {} : await reloadAfterChange(config.dataDir, true);
        return void console.log(
          JSON.stringify({ ...jsonOf(plan, results), dryRun: opts.dryRun ?? false, ...reload }),
        );
      }
      for (const line of summaryTable(plan, results, opts.dryRun ?? false)) console.log(line);
      if (!opts.dryRun && changed.length > 0) await reloadAfterChange(config.dataDir);
    });
}

function jsonOf(plan: TreePlan, results: TreeResult[]) {
  return {
    root: plan.root,
    categories: results.map((r) =>
      'summary' in r
        ? { ...r.summary, name: r.category.name, category: r.category.target, created: r.created }
        : { name: r.category.name, category: r.category.target, error: r.error.toJSON() },
    ),
    notImported: plan.notImported,
  };
}

/** Per category: added, duplicate, invalid and skipped, with the reasons; then what was not imported. */
export function summaryTable(plan: TreePlan, results: TreeResult[], dryRun: boolean): string[] {
  const out = [
    `${dryRun ? 'would import' : 'imported'} ${plan.root}:`,
    `${'folder'.padEnd(22)} ${'category'.padEnd(22)} ${'added'.padStart(8)} ${'dup'.padStart(7)} ${'invalid'.padStart(7)} ${'skipped'.padStart(7)} ${'regex'.padStart(5)}  reasons`,
  ];
  const total = { added: 0, duplicate: 0, invalid: 0, skipped: 0, expressions: 0 };
  for (const r of results) {
    const name = r.category.name.padEnd(22);
    const target = `${r.category.target}${r.created ? ' (new)' : ''}`.padEnd(22);
    if ('error' in r) {
      out.push(`${name} ${target} REFUSED ${renderError(r.error).split('\n')[0]}`);
      continue;
    }
    const s = r.summary;
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += s[k];
    const reasons = Object.entries({ ...s.invalidBy, ...s.skippedBy })
      .filter(([k]) => k !== 'blank' && k !== 'comment')
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    out.push(
      `${name} ${target} ${String(s.added).padStart(8)} ${String(s.duplicate).padStart(7)} ${String(s.invalid).padStart(7)} ${String(s.skipped).padStart(7)} ${String(s.expressions).padStart(5)}  ${reasons || '-'}`,
    );
  }
  out.push(
    `${'total'.padEnd(22)} ${''.padEnd(22)} ${String(total.added).padStart(8)} ${String(total.duplicate).padStart(7)} ${String(total.invalid).padStart(7)} ${String(total.skipped).padStart(7)} ${String(total.expressions).padStart(5)}`,
  );
  const reasons = new Set<string>();
  for (const r of results)
    if ('summary' in r) for (const k of Object.keys(r.summary.invalidBy)) reasons.add(k);
  for (const k of reasons) out.push(`  ${k}: ${importReasonInWords(k)}`);
  for (const n of plan.notImported) out.push(`not imported: ${n.name} (${n.detail})`);
  return out;
}

/** One updating line on a terminal; called with undefined at the end to finish the line. */
function progressLine(): (p: TreeProgress | undefined) => void {
  let last = 0;
  let shown = false;
  return (p) => {
    if (p === undefined) {
      if (shown) process.stderr.write('\n');
      return;
    }
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    shown = true;
    const pct = p.bytesTotal > 0 ? Math.min(100, Math.floor((p.bytesDone / p.bytesTotal) * 100)) : 100;
    const width = 30;
    const bar = '#'.repeat(Math.round((pct / 100) * width)).padEnd(width, '.');
    process.stderr.write(
      `\r[${bar}] ${String(pct).padStart(3)}% ${p.index + 1}/${p.count} ${p.category.padEnd(20).slice(0, 20)} ${p.lines} lines`,
    );
  };
}
