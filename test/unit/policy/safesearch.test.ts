import { describe, expect, it } from 'vitest';
import {
  safeSearchHostMapping,
  safeSearchRewrite,
  type SafeSearchSettings,
} from '../../../src/policy/safesearch.js';

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
  ])('%s%s → %s', (host, path, expected, rewrite) => {
    expect(safeSearchRewrite(host, path, ON)).toEqual({
      pathAndQuery: expected,
      headers: {},
      rewrites: [rewrite],
    });
  });

  it.each([
    ['www.google.com', '/maps?q=x'],
    ['www.google.com', '/'],
    ['mail.google.com', '/search?q=x'],
    ['example.com', '/search?q=x'],
  ])('leaves %s%s alone', (host, path) => {
    expect(safeSearchRewrite(host, path, ON)).toEqual({ pathAndQuery: path, headers: {}, rewrites: [] });
  });

  it('sets YouTube-Restrict on YouTube hosts: Strict or Moderate by profile', () => {
    expect(safeSearchRewrite('www.youtube.com', '/watch?v=a', ON)).toEqual({
      pathAndQuery: '/watch?v=a',
      headers: { 'youtube-restrict': 'Strict' },
      rewrites: ['YouTube-Restrict: Strict'],
    });
    expect(
      safeSearchRewrite('youtubei.googleapis.com', '/youtubei/v1/search', {
        ...ON,
        youtubeRestrict: 'moderate',
      }).headers,
    ).toEqual({ 'youtube-restrict': 'Moderate' });
  });

  it('does nothing for a profile with SafeSearch and YouTube restrictions off', () => {
    expect(safeSearchRewrite('www.google.com', '/search?q=x&safe=off', OFF).rewrites).toEqual([]);
    expect(safeSearchRewrite('www.youtube.com', '/', OFF).headers).toEqual({});
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
    expect(safeSearchHostMapping(host, settings as SafeSearchSettings)).toBe(mapped);
  });
});
