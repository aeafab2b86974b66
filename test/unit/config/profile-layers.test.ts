/** The layering of profiles: shipped, then the config file, then the local layer (a pure function). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILES } from '../../../src/config/default-profiles.js';
import {
  configLayer,
  layerProfiles,
  shippedLayer,
  type ProfileLayer,
} from '../../../src/config/profile-layers.js';
import { profileSchema, type ProfileConfig } from '../../../src/config/schema.js';

const DEFAULTS = profileSchema.parse({});
const profile = (p: Partial<ProfileConfig>): ProfileConfig => ({ ...DEFAULTS, ...p });
const SHIPPED = {
  pupil: profile({
    categories: { social: 'block', chat: 'block' },
    ipLiterals: 'block',
    allow: ['a.example'],
  }),
  staff: profile({ categories: { social: 'warn' }, timeWindows: [] }),
  guest: profile({ categories: { social: 'block' } }),
};

const config = (profiles: ProfileLayer['profiles'], replace = false): ProfileLayer => ({
  source: 'config',
  replace,
  profiles,
});
const local = (profiles: ProfileLayer['profiles']): ProfileLayer => ({ source: 'local', profiles });

describe('layerProfiles', () => {
  it.each<{
    what: string;
    layers: ProfileLayer[];
    names: string[];
    expect: Record<string, Partial<ProfileConfig>>;
    origins?: Record<string, Record<string, string>>;
  }>([
    {
      what: 'no layers: the shipped set',
      layers: [],
      names: ['pupil', 'staff', 'guest'],
      expect: { pupil: { categories: { social: 'block', chat: 'block' } } },
      origins: { pupil: { 'categories.social': 'shipped', ipLiterals: 'shipped' } },
    },
    {
      what: 'a profile not named is kept; a named one keeps the keys not written',
      layers: [config({ pupil: { allow: ['b.example'] } })],
      names: ['pupil', 'staff', 'guest'],
      expect: {
        pupil: { allow: ['b.example'], ipLiterals: 'block', categories: { social: 'block', chat: 'block' } },
        guest: { categories: { social: 'block' } },
      },
      origins: { pupil: { allow: 'config', ipLiterals: 'shipped', 'categories.chat': 'shipped' } },
    },
    {
      what: 'categories merge per category: one added, one changed, the others kept',
      layers: [config({ pupil: { categories: { vpn: 'block', social: 'allow' } } })],
      names: ['pupil', 'staff', 'guest'],
      expect: { pupil: { categories: { social: 'allow', chat: 'block', vpn: 'block' } } },
      origins: {
        pupil: { 'categories.social': 'config', 'categories.chat': 'shipped', 'categories.vpn': 'config' },
      },
    },
    {
      what: 'replace: only the config file’s profiles, each from the schema defaults',
      layers: [config({ pupil: { categories: { social: 'block' } } }, true)],
      names: ['pupil'],
      expect: { pupil: { categories: { social: 'block' }, ipLiterals: DEFAULTS.ipLiterals, allow: [] } },
      origins: { pupil: { 'categories.social': 'config' } },
    },
    {
      what: 'a new profile starts from the schema defaults',
      layers: [config({ byod: { inspect: false } })],
      names: ['pupil', 'staff', 'guest', 'byod'],
      expect: { byod: { inspect: false, categories: {}, default: DEFAULTS.default } },
      origins: { byod: { inspect: 'config' } },
    },
    {
      what: 'the local layer overrides the config file, which overrides shipped',
      layers: [
        config({ pupil: { categories: { social: 'warn' } } }),
        local({ pupil: { categories: { social: 'allow', vpn: 'block' } } }),
      ],
      names: ['pupil', 'staff', 'guest'],
      expect: { pupil: { categories: { social: 'allow', chat: 'block', vpn: 'block' } } },
      origins: {
        pupil: { 'categories.social': 'local', 'categories.vpn': 'local', 'categories.chat': 'shipped' },
      },
    },
    {
      what: 'the local layer on top of a replaced set',
      layers: [config({ guest: {} }, true), local({ guest: { categories: { vpn: 'block' } } })],
      names: ['guest'],
      expect: { guest: { categories: { vpn: 'block' } } },
    },
    {
      what: 'a profile named like an Object method is a new profile from the defaults',
      layers: [config({ constructor: { inspect: false }, toString: {} })],
      names: ['pupil', 'staff', 'guest', 'constructor', 'toString'],
      expect: {
        constructor: { inspect: false, categories: {}, default: DEFAULTS.default },
        toString: { categories: {}, ipLiterals: DEFAULTS.ipLiterals },
      },
    },
    {
      what: 'an array key replaces, it is not appended to',
      layers: [config({ pupil: { allow: [] } })],
      names: ['pupil', 'staff', 'guest'],
      expect: { pupil: { allow: [] } },
    },
  ])('$what', ({ layers, names, expect: want, origins }) => {
    const out = layerProfiles(shippedLayer(SHIPPED), layers, DEFAULTS);
    expect(Object.keys(out.profiles)).toEqual(names);
    for (const [name, p] of Object.entries(want)) expect(out.profiles[name]).toMatchObject(p);
    for (const [name, o] of Object.entries(origins ?? {})) expect(out.origins[name]).toMatchObject(o);
  });

  it('never changes the layers below (the shipped profiles are shared)', () => {
    const before = structuredClone(SHIPPED);
    layerProfiles(
      shippedLayer(SHIPPED),
      [
        config({ pupil: { categories: { social: 'allow' } } }),
        local({ staff: { categories: { x: 'block' } } }),
      ],
      DEFAULTS,
    );
    expect(SHIPPED).toEqual(before);
  });

  it('configLayer: the README example keeps the shipped guest profile', () => {
    const out = configLayer(
      DEFAULT_PROFILES,
      { replace: false, pupil: { categories: { social: 'block' }, allow: ['www.bbc.co.uk/bitesize'] } },
      DEFAULTS,
    );
    expect(Object.keys(out.profiles).sort()).toEqual(['guest', 'leadership', 'pupil', 'staff', 'technician']);
    expect(out.profiles.pupil!.categories).toMatchObject({
      social: 'block',
      webmail: 'block',
      dating: 'block',
    });
    expect(out.profiles.pupil!.allow).toEqual(['www.bbc.co.uk/bitesize']);
    expect(out.profiles.guest).toEqual(DEFAULT_PROFILES.guest);
  });
});
