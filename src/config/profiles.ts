/** Turns validated profile config into the policy core's Profile values, checking category names. */
import { SchoolgateError } from '../errors.js';
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
    });
  }
  return profiles;
}
