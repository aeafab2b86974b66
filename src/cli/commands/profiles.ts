/**
 * `schoolgate profiles set|show`: a profile's action for a category, set from the command line into the local
 * layer (src/lists/profile-overrides.ts) above the shipped profiles and the config file, recorded and
 * reloaded like the other CLI edits; and the effective profiles with where each value comes from.
 */
import { Argument, type Command } from 'commander';
import type { ReadonlyConfig } from '../../config/load.js';
import { originOf, type LayeredProfiles } from '../../config/profile-layers.js';
import { effectiveProfiles } from '../../config/profiles.js';
import { SchoolgateError } from '../../errors.js';
import { catalogue } from '../../lists/catalogue.js';
import {
  readProfileOverrides,
  setProfileOverrides,
  type CategoryAction,
} from '../../lists/profile-overrides.js';
import { withState } from '../../state/store.js';
import {
  configFrom,
  reloadAfterChange,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';
import { beginPolicyEdit } from '../policy-edit.js';

type Opts = CommonOptions & ChangeOptions & { json?: boolean };
const SET_ACTIONS = ['block', 'warn', 'allow', 'clear'] as const;

export function needProfiles(config: ReadonlyConfig, names: readonly string[]): void {
  const unknown = names.filter((n) => !Object.hasOwn(config.profiles, n));
  if (unknown.length > 0)
    throw new SchoolgateError('SG_PROFILE_UNKNOWN', `no profile named "${unknown[0]}"`, {
      suggestion: `use one of: ${Object.keys(config.profiles).join(', ')}`,
    });
}

/**
 * Sets each profile's action for one category in the local layer and records one admin change per
 * profile (before: the effective action and its layer). The caller reloads.
 */
export async function setCategoryAction(
  config: ReadonlyConfig,
  profiles: readonly string[],
  category: string,
  action: CategoryAction | null,
  opts: ChangeOptions,
): Promise<{ profile: string; before: string | null; from: string; after: string | null }[]> {
  const layered = effectiveProfiles(config, await readProfileOverrides(config.dataDir));
  const rows = profiles.map((profile) => ({
    profile,
    before: layered.profiles[profile]?.categories[category] ?? null,
    from: originOf(layered.origins, profile, `categories.${category}`),
  }));
  await setProfileOverrides(
    config.dataDir,
    profiles.map((profile) => ({ profile, category, action })),
  );
  const after = effectiveProfiles(config, await readProfileOverrides(config.dataDir));
  const results = rows.map((r) => ({ ...r, after: after.profiles[r.profile]?.categories[category] ?? null }));
  await withState(config.dataDir, (s) =>
    s.transaction(() => {
      for (const r of results)
        s.changes.record({
          action: 'profiles.set',
          target: `profile ${r.profile} category ${category}`,
          before: { action: r.before, from: r.from },
          after: { action: r.after, set: action ?? 'clear', from: action === null ? 'below' : 'local' },
          reason: opts.reason,
          by: opts.by,
        });
    }),
  );
  return results;
}

export function registerProfiles(program: Command): void {
  const profiles = program
    .command('profiles')
    .description('role profiles: shipped, overridden by the config file, then by `profiles set`')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate profiles set pupil vpn block --reason "VPNs bypass the filter"\n  schoolgate profiles show pupil\n  schoolgate profiles show --json',
    );

  withChangeOptions(withCommonOptions(profiles.command('set')))
    .description(
      'set a profile’s action for a category (local layer, above the config file); reloads a running proxy',
    )
    .argument('<profile>')
    .argument('<category>')
    .addArgument(
      new Argument(
        '<action>',
        'block, warn, allow, or clear (back to the config file’s or shipped value)',
      ).choices(SET_ACTIONS),
    )
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate profiles set pupil vpn block --reason "VPNs bypass the filter" --by "IT"\n  schoolgate profiles set staff streaming allow --reason "media department"\n  schoolgate profiles set staff streaming clear',
    )
    .action(async (profile: string, category: string, action: (typeof SET_ACTIONS)[number], opts: Opts) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      needProfiles(config, [profile]);
      const known = await catalogue({ categoriesDir: config.categoriesDir, dataDir: config.dataDir });
      if (!known.has(category) && action !== 'clear')
        throw new SchoolgateError('SG_CATEGORY_UNKNOWN', `no category named "${category}"`, {
          suggestion: `use one of: ${[...known.keys()].sort().join(', ')} (or create it: schoolgate lists new)`,
        });
      const [r] = await setCategoryAction(
        config,
        [profile],
        category,
        action === 'clear' ? null : action,
        opts,
      );
      if (!opts.json)
        console.log(
          `profile ${profile}: ${category} ${r!.before ?? '(not set)'} (${r!.from}) -> ${r!.after ?? '(not set)'}${action === 'clear' ? ' (cleared from the local layer)' : ' (local)'}`,
        );
      const reload = await reloadAfterChange(config.dataDir, opts.json);
      if (opts.json) console.log(JSON.stringify({ ...r, category, ...reload }));
    });

  withCommonOptions(profiles.command('show'))
    .description('the effective profile(s): every setting and category, and which layer it comes from')
    .argument('[name]', 'one profile (default: all)')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExamples:\n  schoolgate profiles show pupil\n  schoolgate profiles show --json')
    .action(async (name: string | undefined, opts: Opts) => {
      const config = configFrom(opts);
      if (name) needProfiles(config, [name]);
      const warnings: string[] = [];
      const layered = effectiveProfiles(config, await readProfileOverrides(config.dataDir), warnings);
      const views = Object.keys(layered.profiles)
        .filter((n) => !name || n === name)
        .map((n) => profileView(layered, n));
      if (opts.json) return void console.log(JSON.stringify(name ? views[0] : views));
      for (const v of views) console.log(renderView(v));
      for (const w of warnings) console.error(`warning: ${w}`);
    });
}

interface ProfileView {
  name: string;
  settings: Record<string, { value: unknown; from: string }>;
  categories: Record<string, { action: string; from: string }>;
}

function profileView(layered: LayeredProfiles, name: string): ProfileView {
  const p = layered.profiles[name]!;
  const settings: ProfileView['settings'] = {};
  for (const [key, value] of Object.entries(p))
    if (key !== 'categories') settings[key] = { value, from: originOf(layered.origins, name, key) };
  const categories: ProfileView['categories'] = {};
  for (const c of Object.keys(p.categories).sort())
    categories[c] = { action: p.categories[c]!, from: originOf(layered.origins, name, `categories.${c}`) };
  return { name, settings, categories };
}

function renderView(v: ProfileView): string {
  const lines = [`${v.name}`];
  for (const [key, s] of Object.entries(v.settings)) {
    const value = typeof s.value === 'string' ? s.value : JSON.stringify(s.value);
    lines.push(`  ${key.padEnd(16)} ${value.padEnd(40)} ${s.from}`);
  }
  lines.push('  categories:');
  for (const [c, s] of Object.entries(v.categories))
    lines.push(`    ${c.padEnd(14)} ${s.action.padEnd(40)} ${s.from}`);
  if (Object.keys(v.categories).length === 0) lines.push('    (none: every category takes the default)');
  return lines.join('\n');
}
