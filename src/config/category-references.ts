/**
 * Category names outside the profiles (profiles.ts checks theirs): `tls.neverInspect.categories`,
 * `alerts.categories` and `selftest.probes`. A name with no list is an error naming the field when the
 * school wrote it — `tls.neverInspect.categories: [helth]` would otherwise inspect every health site — and
 * a warning when it is the shipped default (a school's own categories folder may have no `health`).
 */
import { SchoolgateError } from '../errors.js';
import type { CategoryLists } from '../policy/types.js';
import type { ReadonlyConfig } from './load.js';
import { configSchema } from './schema.js';

let defaults: ReturnType<typeof configSchema.parse> | undefined;

export function checkCategoryReferences(
  config: ReadonlyConfig,
  lists: CategoryLists,
  warnings: string[],
): void {
  defaults ??= configSchema.parse({});
  const fields: { field: string; names: readonly string[]; value: unknown; byDefault: unknown }[] = [
    {
      field: 'tls.neverInspect.categories',
      names: config.tls.neverInspect.categories,
      value: config.tls.neverInspect.categories,
      byDefault: defaults.tls.neverInspect.categories,
    },
    {
      field: 'alerts.categories',
      names: Object.keys(config.alerts.categories),
      value: config.alerts.categories,
      byDefault: defaults.alerts.categories,
    },
    {
      field: 'selftest.probes',
      names: Object.keys(config.selftest.probes),
      value: config.selftest.probes,
      byDefault: defaults.selftest.probes,
    },
  ];
  for (const { field, names, value, byDefault } of fields) {
    const missing = names.filter((n) => !lists.categories.has(n));
    if (missing.length === 0) continue;
    if (JSON.stringify(value) === JSON.stringify(byDefault)) {
      warnings.push(`${field} (default) names categories without a list: ${missing.join(', ')}`);
      continue;
    }
    const at = Array.isArray(value) ? `${field}.${names.indexOf(missing[0]!)}` : `${field}.${missing[0]!}`;
    throw new SchoolgateError('SG_CATEGORY_UNKNOWN', `${at}: no category "${missing[0]!}"`, {
      context: { field: at, category: missing[0] },
      suggestion: `use one of: ${[...lists.categories.keys()].sort().join(', ')}`,
    });
  }
}
