/**
 * The local layer of profiles: what `schoolgate profiles set` and `lists new|import --block-for` decided, on
 * top of the shipped profiles and the config file's (src/config/profile-layers.ts). One YAML file in the
 * local layer, written only by those commands (each change is in the admin-changes record):
 *
 *   <dataDir>/categories.local/profiles.yaml
 *     pupil:
 *       categories: { vpn: block }
 *
 * A file that does not parse, or names an action that does not exist, stops the start or the reload with
 * the file named (fail closed: never a profile silently missing the school's block).
 */
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { SchoolgateError } from '../errors.js';
import { localLayerDir, readTextIfExists, withLocalLock, writeAtomic } from './local-layer.js';
import path from 'node:path';

export type CategoryAction = 'allow' | 'warn' | 'block';
export const CATEGORY_ACTIONS: readonly CategoryAction[] = ['block', 'warn', 'allow'];

const overridesSchema = z.record(
  z.string().min(1),
  z.strictObject({ categories: z.record(z.string().min(1), z.enum(['allow', 'warn', 'block'])) }),
);

export type ProfileOverrides = Record<string, { categories: Record<string, CategoryAction> }>;

export function profileOverridesFile(dataDir: string): string {
  return path.join(localLayerDir(dataDir), 'profiles.yaml');
}

export async function readProfileOverrides(dataDir: string): Promise<ProfileOverrides> {
  const file = profileOverridesFile(dataDir);
  const text = await readTextIfExists(file);
  if (text === undefined) return {};
  const doc = parseDocument(text);
  const invalid = (message: string) =>
    new SchoolgateError('SG_CONFIG_INVALID', `${file}: ${message}`, {
      context: { file },
      suggestion:
        'this file is written by `schoolgate profiles set`; restore it from a backup or delete the broken entry',
    });
  if (doc.errors.length > 0) throw invalid(`not valid YAML: ${doc.errors[0]!.message}`);
  const parsed = overridesSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(`${issue.path.map(String).join('.') || '(top level)'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Sets (or with null, clears) one profile's action for one category in the local layer, under the local
 * layer's lock. Returns the action the local layer had before (null: none).
 */
export function setProfileOverrides(
  dataDir: string,
  changes: readonly { profile: string; category: string; action: CategoryAction | null }[],
): Promise<(CategoryAction | null)[]> {
  return withLocalLock(dataDir, async () => {
    const current = await readProfileOverrides(dataDir);
    const before = changes.map(({ profile, category, action }) => {
      const categories = { ...current[profile]?.categories };
      const was = categories[category] ?? null;
      if (action === null) delete categories[category];
      else categories[category] = action;
      if (Object.keys(categories).length === 0) delete current[profile];
      else current[profile] = { categories };
      return was;
    });
    await writeAtomic(profileOverridesFile(dataDir), renderOverrides(current));
    return before;
  });
}

function renderOverrides(overrides: ProfileOverrides): string {
  const lines = [
    '# Written by `schoolgate profiles set` and `schoolgate lists new|import --block-for`.',
    '# Overrides the shipped profiles and the config file; every change is in `schoolgate changes`.',
  ];
  for (const profile of Object.keys(overrides).sort()) {
    lines.push(`${JSON.stringify(profile)}:`, '  categories:');
    const categories = overrides[profile]!.categories;
    for (const c of Object.keys(categories).sort()) lines.push(`    ${JSON.stringify(c)}: ${categories[c]}`);
  }
  return `${lines.join('\n')}\n`;
}
