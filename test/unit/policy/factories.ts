import { readFileSync } from 'node:fs';
import { parseEndpointsYaml, SHIPPED_ENDPOINTS } from '../../../src/lists/endpoints-file.js';
import { compileEndpoints } from '../../../src/policy/endpoints.js';
import { compileLists } from '../../../src/policy/lists.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import type { CategoryLists, CategoryMeta, PolicyRequest, Profile } from '../../../src/policy/types.js';

/** The shipped endpoint table (categories/endpoints.yaml), as the proxy loads it without a local layer. */
export const ENDPOINTS = compileEndpoints(
  parseEndpointsYaml(readFileSync(SHIPPED_ENDPOINTS, 'utf8'), SHIPPED_ENDPOINTS),
);

/** A request for an absolute URL, parsed the way the proxy parses it. */
export function request(url: string, method = 'GET'): PolicyRequest {
  return { target: parseAbsoluteTarget(url), method };
}

/** A pupil-like profile: blocks social and adult, warns on games, blocks IP literals, allows the rest. */
export function profile(overrides: Partial<Profile> = {}): Profile {
  return {
    name: 'pupil',
    description: 'test pupil profile',
    defaultAction: 'allow',
    categories: { social: 'block', adult: 'block', games: 'warn', gambling: 'block' },
    allow: [],
    deny: [],
    ipLiterals: 'block',
    timeWindows: [],
    timeZone: 'Europe/London',
    ...overrides,
  };
}

export function meta(name: string, overrides: Partial<CategoryMeta> = {}): CategoryMeta {
  return { name, title: name, description: `${name} sites`, flagged: false, alert: false, ...overrides };
}

/** Small category lists in list syntax: { category: [domain or host/path lines] }. */
export function lists(
  domains: Record<string, string[]>,
  urls: Record<string, string[]> = {},
  metas: CategoryMeta[] = [],
): CategoryLists {
  const names = new Set([...Object.keys(domains), ...Object.keys(urls)]);
  const given = new Map(metas.map((m) => [m.name, m]));
  return compileLists({
    meta: [...names].map((n) => given.get(n) ?? meta(n)),
    domains: new Map(Object.entries(domains)),
    urls: new Map(Object.entries(urls)),
    endpoints: ENDPOINTS,
  });
}

/** The standard fixture: the policy blocks blocked.example (hostile-inputs §6). */
export function standardLists(): CategoryLists {
  return lists(
    {
      social: ['facebook.com', 'blocked.example', 'xn--bcher-kva.example'],
      adult: ['adult.example', '198.51.100.7'],
      games: ['games.example'],
      gambling: ['bet.example'],
      extremism: ['hate.example'],
    },
    { social: ['youtube.com/watch?v=abc', 'example.com/some/dir'] },
    [
      meta('social', { title: 'Social networking', flagged: true }),
      meta('adult', { title: 'Adult', flagged: true }),
      meta('extremism', { title: 'Extremism', flagged: true, alert: true }),
      meta('games', { title: 'Games' }),
      meta('gambling', { title: 'Gambling', flagged: true }),
    ],
  );
}
