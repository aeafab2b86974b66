/**
 * Profiles in layers: the shipped profiles (default-profiles.ts) are the base, a school's config `profiles:`
 * overrides them, and the CLI's local layer (`schoolgate profiles set`, `lists new --block-for`) overrides
 * both. Pure: no I/O, table-tested (test/unit/config/profile-layers.test.ts).
 *
 * How a layer applies, per profile it names:
 * - a profile not named keeps what the layers below gave it;
 * - `categories` (and nothing else) merges per category: `pupil: { categories: { vpn: block } }` adds vpn
 *   and keeps pupil's other categories — the way a technician expects "block one more thing" to read;
 * - every other key (default, allow, deny, timeWindows, inspect, ...) replaces the value below whole;
 * - a profile no layer below has starts from the schema's defaults;
 * - `replace: true` on a layer drops everything below it: the school's own set, from nothing.
 */
import type { ProfileConfig } from './schema.js';

export type ProfileSource = 'shipped' | 'config' | 'local';

/** What one layer says about one profile: any subset of its keys; categories a subset of categories. */
export type ProfilePatch = Partial<ProfileConfig>;

export interface ProfileLayer {
  source: ProfileSource;
  /** Drop every profile below this layer. */
  replace?: boolean;
  profiles: Readonly<Record<string, ProfilePatch>>;
}

/**
 * Where each effective value came from: profile → key → source. Categories are per category, under
 * `categories.<name>`, so an error or `profiles show` can say "pupil blocks vpn (local)".
 */
export type ProfileOrigins = Record<string, Record<string, ProfileSource>>;

export interface LayeredProfiles {
  profiles: Record<string, ProfileConfig>;
  origins: ProfileOrigins;
}

/** The shipped profiles as the base layer, every key marked 'shipped'. */
export function shippedLayer(shipped: Readonly<Record<string, ProfileConfig>>): LayeredProfiles {
  const base: LayeredProfiles = { profiles: {}, origins: {} };
  return applyLayer(base, { source: 'shipped', profiles: shipped }, {} as ProfileConfig);
}

/** Applies layers, lowest first, over `base`; `defaults` fills the keys of a profile new to every layer. */
export function layerProfiles(
  base: LayeredProfiles,
  layers: readonly ProfileLayer[],
  defaults: ProfileConfig,
): LayeredProfiles {
  return layers.reduce((acc, layer) => applyLayer(acc, layer, defaults), base);
}

function applyLayer(base: LayeredProfiles, layer: ProfileLayer, defaults: ProfileConfig): LayeredProfiles {
  const profiles: Record<string, ProfileConfig> = layer.replace ? {} : { ...base.profiles };
  const origins: ProfileOrigins = layer.replace ? {} : { ...base.origins };
  for (const [name, patch] of Object.entries(layer.profiles)) {
    // Own properties only: a profile named `constructor` or `toString` is a name, not Object's method.
    const below = Object.hasOwn(profiles, name) ? profiles[name] : undefined;
    const from: Record<string, ProfileSource> = below ? { ...origins[name] } : {};
    const merged = { ...(below ?? cloneDefaults(defaults)) } as Record<string, unknown>;
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      if (key === 'categories') {
        const categories = value as Record<string, ProfileConfig['default']>;
        merged.categories = { ...(merged.categories as object), ...categories };
        for (const c of Object.keys(categories)) from[`categories.${c}`] = layer.source;
      } else {
        merged[key] = value;
        from[key] = layer.source;
      }
    }
    profiles[name] = merged as unknown as ProfileConfig;
    origins[name] = from;
  }
  return { profiles, origins };
}

/** The shipped profiles with a config file's `profiles:` (validated, `replace` beside the profiles) over them. */
export function configLayer(
  shipped: Readonly<Record<string, unknown>>,
  layer: { replace: boolean } & Readonly<Record<string, unknown>>,
  defaults: ProfileConfig,
): LayeredProfiles {
  const { replace, ...profiles } = layer;
  return layerProfiles(
    shippedLayer(shipped as Record<string, ProfileConfig>),
    [{ source: 'config', replace, profiles: profiles as Record<string, ProfilePatch> }],
    defaults,
  );
}

function cloneDefaults(defaults: ProfileConfig): ProfileConfig {
  return structuredClone(defaults);
}

/** The source of one key of one profile ('default' for a key no layer set: the schema's default). */
export function originOf(origins: ProfileOrigins, profile: string, key: string): ProfileSource | 'default' {
  return origins[profile]?.[key] ?? 'default';
}
