import { describe, expect, it } from 'vitest';
import {
  safeSearchHostMapping,
  safeSearchRewrite,
  type SafeSearchSettings,
} from '../../../src/policy/safesearch.js';
import { normalisePath } from '../../../src/policy/target.js';
import { ENDPOINTS } from './factories.js';

const rewrite = (host: string, raw: string, settings: SafeSearchSettings, form?: string) =>
  safeSearchRewrite(ENDPOINTS, { host, path: normalisePath(raw) }, raw, settings, form);

const ON: SafeSearchSettings = { safeSearch: true, youtubeRestrict: 'strict' };
const OFF: SafeSearchSettings = { safeSearch: false, youtubeRestrict: 'off' };

describe('SafeSearch rewrites on inspected requests', () => {
  it.each([
    ['www.google.com', '/search?q=x', '/search?q=x&safe=active', 'safe=active'],
    ['www.google.co.uk', '/search?q=x&safe=off&hl=en', '/search?q=x&hl=en&safe=active', 'safe=active'],
    ['www.google.com', '/search?SAFE=images&q=x&safe=off', '/search?q=x&safe=active', 'safe=active'],
    ['www.bing.com', '/search?q=x&adlt=off', '/search?q=x&adlt=strict', 'adlt=strict'],
    ['www.bing.com', '/images/search?q=x', '/images/search?q=x&adlt=strict', 'adlt=strict'],
    ['duckduckgo.com', '/?q=x&kp=-2', '/?q=x&kp=1', 'kp=1'],
  ])('%s%s → %s', (host, path, expected, forced) => {
    expect(rewrite(host, path, ON)).toEqual({
      pathAndQuery: expected,
      headers: {},
      rewrites: [forced],
    });
  });

  it.each([
    ['www.google.com', '/maps?q=x'],
    ['www.google.com', '/'],
    ['mail.google.com', '/search?q=x'],
    ['example.com', '/search?q=x'],
  ])('leaves %s%s alone', (host, path) => {
    expect(rewrite(host, path, ON)).toEqual({ pathAndQuery: path, headers: {}, rewrites: [] });
  });

  it.each([
    ['www.google.com', '//search?q=x&safe=off', '//search?q=x&safe=active'],
    ['www.google.com', '/%73earch?q=x', '/%73earch?q=x&safe=active'],
    ['www.google.com', '/search;x?q=x&%73afe=off', '/search;x?q=x&safe=active'],
    ['www.google.com', '/SEARCH/?q=x', '/SEARCH/?q=x&safe=active'],
    ['www.google.com', '/imghp?q=x', '/imghp?q=x&safe=active'],
    ['lite.duckduckgo.com', '/lite/?q=x&kp=-2', '/lite/?q=x&kp=1'],
    ['html.duckduckgo.com', '/html?q=x', '/html?q=x&kp=1'],
    ['www.bing.com', '/images/search?q=x&ADLT=off', '/images/search?q=x&adlt=strict'],
    ['uk.search.yahoo.com', '/search;_ylt=a?p=x', '/search;_ylt=a?p=x&vm=r'],
  ])('other spellings: %s%s → %s (the client bytes kept, the parameter forced)', (host, path, expected) => {
    expect(rewrite(host, path, ON).pathAndQuery).toBe(expected);
  });

  it('forces the parameter in a POST form too, other fields keeping their bytes', () => {
    const r = rewrite('html.duckduckgo.com', '/html/', ON, 'q=caf%C3%A9&kp=-2&b=');
    expect(r).toMatchObject({ pathAndQuery: '/html/?kp=1', form: 'q=caf%C3%A9&b=&kp=1', rewrites: ['kp=1'] });
  });

  it('sets YouTube-Restrict on YouTube hosts: Strict or Moderate by profile', () => {
    expect(rewrite('www.youtube.com', '/watch?v=a', ON)).toEqual({
      pathAndQuery: '/watch?v=a',
      headers: { 'youtube-restrict': 'Strict' },
      rewrites: ['YouTube-Restrict: Strict'],
    });
    expect(
      rewrite('youtubei.googleapis.com', '/youtubei/v1/search', {
        ...ON,
        youtubeRestrict: 'moderate',
      }).headers,
    ).toEqual({ 'youtube-restrict': 'Moderate' });
  });

  it('does nothing for a profile with SafeSearch and YouTube restrictions off', () => {
    expect(rewrite('www.google.com', '/search?q=x&safe=off', OFF).rewrites).toEqual([]);
    expect(rewrite('www.youtube.com', '/', OFF).headers).toEqual({});
  });
});

describe('SafeSearch host mappings for profiles without inspection', () => {
  it.each([
    ['www.google.com', ON, 'forcesafesearch.google.com'],
    ['www.google.co.uk', ON, 'forcesafesearch.google.com'],
    ['www.bing.com', ON, 'strict.bing.com'],
    ['duckduckgo.com', ON, 'safe.duckduckgo.com'],
    ['www.youtube.com', ON, 'restrict.youtube.com'],
    ['m.youtube.com', { ...ON, youtubeRestrict: 'moderate' as const }, 'restrictmoderate.youtube.com'],
    ['www.youtube.com', { ...ON, youtubeRestrict: 'off' as const }, null],
    ['www.google.com', OFF, null],
    ['example.com', ON, null],
  ])('%s → %s', (host, settings, mapped) => {
    expect(safeSearchHostMapping(ENDPOINTS, host, settings as SafeSearchSettings)).toBe(mapped);
  });
});
