/** Turns validated profile config into the policy core's Profile values, checking category names. */
import { SchoolgateError } from '../errors.js';
import { profileEntryLists } from '../policy/lists.js';
import type { CategoryLists, Profile } from '../policy/types.js';
import type { ReadonlyConfig } from './load.js';

export function buildProfiles(config: ReadonlyConfig, lists: CategoryLists): Map<string, Profile> {
  const profiles = new Map<string, Profile>();
  for (const [name, p] of Object.entries(config.profiles)) {
    const check = (field: string, categories: Readonly<Record<string, unknown>>) => {
      for (const category of Object.keys(categories))
        if (!lists.categories.has(category))
          throw new SchoolgateError(
            'SG_CATEGORY_UNKNOWN',
            `profiles.${name}.${field}: no category "${category}"`,
            {
              context: { field: `profiles.${name}.${field}`, category },
              suggestion: `use one of: ${[...lists.categories.keys()].sort().join(', ')}`,
            },
          );
    };
    check('categories', p.categories);
    p.timeWindows.forEach((w, i) => check(`timeWindows.${i}.categories`, w.categories));
    profiles.set(name, {
      name,
      description: p.description,
      defaultAction: p.default,
      categories: { ...p.categories },
      allow: [...p.allow],
      deny: [...p.deny],
      ipLiterals: p.ipLiterals,
      timeWindows: p.timeWindows.map((w) => ({ ...w, days: [...w.days], categories: { ...w.categories } })),
      timeZone: config.timeZone,
      inspect: p.inspect,
      neverInspect: [...p.neverInspect],
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
