import { describe, expect, it } from 'vitest';
import { hostPattern } from '../../../src/policy/endpoints.js';
import { urlReadings } from '../../../src/policy/loophole.js';
import { pathReadings } from '../../../src/policy/path-readings.js';
import { normalisePath } from '../../../src/policy/target.js';
import { ENDPOINTS } from './factories.js';

describe('path readings a server may take', () => {
  it.each([
    ['/plain/path?q=1', ['/plain/path?q=1']],
    ['/a;jsessionid=1/b', ['/a;jsessionid=1/b', '/a/b']],
    ['/ok/..;/admin', ['/ok/..;/admin', '/admin']],
    ['/a%2F..%2Fadmin', ['/a%2F..%2Fadmin', '/admin']],
    ['/a%5Cb?x=%2F', ['/a%5Cb?x=%2F', '/a/b?x=%2F']],
    ['/%252e%252e/%2573ecret', ['/%252e%252e/%2573ecret', '/secret']],
  ])('%s → %j', (raw, readings) => {
    expect(pathReadings(normalisePath(raw))).toEqual(readings);
  });
});

describe('host patterns', () => {
  it.each([
    ['google.{tld}', 'google.com', true],
    ['google.{tld}', 'google.co.uk', true],
    ['google.{tld}', 'notgoogle.com', false],
    ['google.{tld}', 'google.evil.example', false],
    ['*.translate.goog', 'www-x-com.translate.goog', true],
    ['*.translate.goog', 'a.b.translate.goog', false],
    ['*.translate.goog', 'translate.goog', false],
    ['www.bing.com', 'www.bing.com', true],
    ['www.bing.com', 'bing.com', false],
  ])('%s matches %s: %s', (pattern, host, expected) => {
    expect(hostPattern(pattern)(host)).toBe(expected);
  });
});

describe('the shipped endpoint table', () => {
  const at = (host: string, raw: string) => ENDPOINTS.match({ host, path: normalisePath(raw) })?.spec.name;

  it.each([
    ['www.google.com', '/search?q=x', 'google'],
    ['www.google.com', '//search?q=x', 'google'],
    ['www.google.com', '/x%2F..%2Fsearch?q=x', 'google'],
    ['html.duckduckgo.com', '/html/', 'duckduckgo'],
    ['lite.duckduckgo.com', '/lite', 'duckduckgo'],
    ['www.bing.com', '/images/search', 'bing'],
    ['translate.google.co.uk', '/translate?u=x', 'google-translate'],
    ['www-x-com.translate.goog', '/page', 'google-translate-proxy'],
    ['translate.yandex.ru', '/translate?url=x', 'yandex-translate'],
    ['web.archive.org', '/web/2020/http://x/', 'wayback-machine'],
    ['archive.ph', '/newest/http://x/', 'archive-today'],
    ['archive.ph', '/submit/', 'archive-today-submit'],
    ['archive.ph', '/?url=x', 'archive-today-submit'],
    ['www.google.com', '/maps?q=x', undefined],
    ['mail.google.com', '/search?q=x', undefined],
  ])('%s%s → %s', (host, path, name) => {
    expect(at(host, path)).toBe(name);
  });

  it('names the SafeSearch hosts for uninspected tunnels', () => {
    expect(ENDPOINTS.safeSearchHost('www.google.de')).toBe('forcesafesearch.google.com');
    expect(ENDPOINTS.safeSearchHost('html.duckduckgo.com')).toBe('safe.duckduckgo.com');
    expect(ENDPOINTS.safeSearchHost('uk.search.yahoo.com')).toBeNull();
  });
});

describe('readings of a translator target', () => {
  const hosts = (value: string) => urlReadings(value, 'https').map((t) => `${t.scheme}://${t.host}${t.path}`);

  it.each([
    ['http://blocked.example/', ['http://blocked.example/']],
    ['HTTP://BLOCKED.example', ['http://blocked.example/']],
    ['blocked.example/page', ['http://blocked.example/page']],
    ['//blocked.example/', ['https://blocked.example/']],
    ['http:/blocked.example/', ['http://blocked.example/']],
    ['http:blocked.example', ['http://blocked.example/']],
    ['http:\\\\blocked.example\\x', ['http://blocked.example/x']],
    ['  http://blo\tcked.example/ ', ['http://blocked.example/']],
    ['http://fine.example@blocked.example/', ['http://blocked.example/']],
    ['http://blocked.example:80/a/../b', ['http://blocked.example/b']],
    ['http://0x7f.1/', ['http://127.0.0.1/']],
    ['ftp://blocked.example/', []],
    ['http://exa mple/', []],
  ])('%j → %j', (value, expected) => {
    expect(hosts(value)).toEqual(expected);
  });
});
