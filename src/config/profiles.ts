/**
 * Turns the layered profiles (shipped, config file, local layer: profile-layers.ts) into the policy core's
 * Profile values, checking every category name they use against the loaded lists.
 *
 * A category a profile names that has no list: an error naming the field when the school wrote it (config
 * file or `profiles set`): a typo such as `helth` must not leave a block or an exemption silently unenforced.
 * When only the shipped profiles name it (a school with its own categories folder that has no `doh`), it is
 * dropped with a warning: nothing can match a category without a list.
 */
import { SchoolgateError } from '../errors.js';
import { profileOverridesFile, type ProfileOverrides } from '../lists/profile-overrides.js';
import { profileEntryLists } from '../policy/lists.js';
import type { CategoryLists, Profile } from '../policy/types.js';
import type { ReadonlyConfig } from './load.js';
import {
  layerProfiles,
  originOf,
  type LayeredProfiles,
  type ProfileOrigins,
  type ProfileSource,
} from './profile-layers.js';
import { profileSchema, type ProfileConfig } from './schema.js';

/** The effective profiles: the config's (shipped + config file) with the local layer's overrides on top. */
export function effectiveProfiles(
  config: ReadonlyConfig,
  overrides: ProfileOverrides,
  warnings: string[] = [],
): LayeredProfiles {
  const base: LayeredProfiles = {
    profiles: config.profiles as Record<string, ProfileConfig>,
    origins: config.profileOrigins ?? allFromConfig(config),
  };
  const local: ProfileOverrides = {};
  for (const [name, o] of Object.entries(overrides)) {
    if (Object.hasOwn(config.profiles, name)) local[name] = o;
    else warnings.push(`${profileOverridesFile(config.dataDir)}: profile ${name} does not exist: ignored`);
  }
  return layerProfiles(base, [{ source: 'local', profiles: local }], profileSchema.parse({}));
}

/** A config built without validateConfig (no origins recorded): every key counts as the school's own. */
function allFromConfig(config: ReadonlyConfig): ProfileOrigins {
  const origins: ProfileOrigins = {};
  for (const [name, p] of Object.entries(config.profiles)) {
    const keys = Object.keys(p).filter((k) => k !== 'categories');
    keys.push(...Object.keys(p.categories).map((c) => `categories.${c}`));
    origins[name] = Object.fromEntries(keys.map((k) => [k, 'config' as ProfileSource]));
  }
  return origins;
}

export function buildProfiles(
  config: ReadonlyConfig,
  lists: CategoryLists,
  overrides: ProfileOverrides = {},
  warnings: string[] = [],
): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  const layered = effectiveProfiles(config, overrides, warnings);
  for (const [name, p] of Object.entries(layered.profiles)) {
    const unknown = (field: string, category: string, source: ProfileSource | 'default') =>
      new SchoolgateError('SG_CATEGORY_UNKNOWN', `profiles.${name}.${field}: no category "${category}"`, {
        context: {
          field: `profiles.${name}.${field}`,
          category,
          ...(source === 'local' ? { file: profileOverridesFile(config.dataDir) } : {}),
        },
        suggestion:
          source === 'local'
            ? `set by \`schoolgate profiles set\`: create the category, or \`schoolgate profiles set ${name} ${category} clear\`` +
              ` (categories: ${[...lists.categories.keys()].sort().join(', ')})`
            : `use one of: ${[...lists.categories.keys()].sort().join(', ')}`,
      });
    const categories: Profile['categories'] = {};
    for (const [category, action] of Object.entries(p.categories)) {
      const source = originOf(layered.origins, name, `categories.${category}`);
      if (lists.categories.has(category)) categories[category] = action;
      else if (source === 'shipped')
        warnings.push(`shipped profile ${name} names category ${category}, which has no list: ignored`);
      else throw unknown('categories', category, source);
    }
    const checkAll = (field: string, names: readonly string[]) => {
      const source = originOf(layered.origins, name, field.split('.')[0]!);
      for (const category of names)
        if (!lists.categories.has(category)) {
          if (source !== 'shipped') throw unknown(field, category, source);
          warnings.push(`shipped profile ${name} names category ${category}, which has no list: ignored`);
        }
    };
    p.timeWindows.forEach((w, i) => checkAll(`timeWindows.${i}.categories`, Object.keys(w.categories)));
    checkAll('neverInspect', p.neverInspect);
    profiles.set(name, {
      name,
      description: p.description,
      defaultAction: p.default,
      categories,
      allow: [...p.allow],
      deny: [...p.deny],
      ipLiterals: p.ipLiterals,
      timeWindows: p.timeWindows.map((w) => ({
        ...w,
        days: [...w.days],
        categories: onlyListed(w.categories, lists),
      })),
      timeZone: config.timeZone,
      inspect: p.inspect,
      neverInspect: p.neverInspect.filter((c) => lists.categories.has(c)),
      tunnelNonTls: p.tunnelNonTls,
      safeSearch: p.safeSearch,
      youtubeRestrict: p.youtubeRestrict,
      mode: config.mode === 'monitor' ? 'monitor' : p.mode,
    });
  }
  // Compile explicit allow/deny entries now, so a bad entry stops startup with the field named instead of
  // turning every request of that profile into a fail-closed block.
  for (const profile of profiles.values()) {
    try {
      profileEntryLists(profile);
    } catch (err) {
      const entry = (err as SchoolgateError).context?.entry;
      const field = profile.deny.includes(entry as string) ? 'deny' : 'allow';
      throw new SchoolgateError(
        'SG_CONFIG_INVALID',
        `profiles.${profile.name}.${field}: ${(err as Error).message}`,
        {
          context: { field: `profiles.${profile.name}.${field}`, entry },
          suggestion:
            'write a domain (example.com), an IP address, or a URL prefix without scheme (example.com/path)',
        },
      );
    }
  }
  return profiles;
}

function onlyListed<T>(categories: Readonly<Record<string, T>>, lists: CategoryLists): Record<string, T> {
  return Object.fromEntries(Object.entries(categories).filter(([c]) => lists.categories.has(c)));
}
