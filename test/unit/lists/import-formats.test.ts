/**
 * Import lines read strictly per format: hostile and malformed lines in each format, what they become.
 * `e` is the entry added (host, or host/path for a URL prefix); `skip`/`invalid` the reason counted.
 */
import { describe, expect, it } from 'vitest';
import {
  lineShape,
  parseImportLine,
  type Candidate,
  type ImportFormat,
} from '../../../src/lists/import-formats.js';

function outcome(c: Candidate): string {
  switch (c.kind) {
    case 'skip':
      return `skip:${c.reason}${c.detail ? ` ${c.detail}` : ''}`;
    case 'invalid':
      return `invalid:${c.reason}`;
    case 'url':
      return `e:${c.host}${c.path}`;
    default:
      return `e:${c.host}${'exact' in c && c.exact ? ' (host only)' : ''}`;
  }
}

const read = (format: ImportFormat, line: string, kind: 'domains' | 'urls' = 'domains') =>
  parseImportLine(format, kind, line).map(outcome);

describe('hosts: an address, then names', () => {
  it.each([
    ['0.0.0.0 ads.example', ['e:ads.example']],
    ['127.0.0.1\tads.example  tracker.example # two', ['e:ads.example', 'e:tracker.example']],
    [':: ads.example', ['e:ads.example']],
    ['this line is garbage', ['invalid:hosts-no-address']],
    ['ads.example 0.0.0.0', ['invalid:hosts-no-address']],
    ['127.1 ads.example', ['invalid:hosts-no-address']],
    ['0.0.0.0', ['invalid:hosts-no-name']],
    ['0.0.0.0 com', ['invalid:public-suffix']],
    ['0.0.0.0 is garbage', ['invalid:public-suffix', 'invalid:public-suffix']],
    ['0.0.0.0 co.uk bbc.co.uk', ['invalid:public-suffix', 'e:bbc.co.uk']],
    ['0.0.0.0 github.io', ['e:github.io (host only)']],
    ['127.0.0.1 localhost', ['skip:hosts-local-name']],
    ['0.0.0.0 0.0.0.0', ['skip:hosts-local-name']],
    ['0.0.0.0 bad..example', ['invalid:empty-label']],
    ['0.0.0.0 ads.example/path', ['invalid:a domains entry has a path; put it in the urls file']],
    ['0.0.0.0 ads.example:80', ['invalid:a list entry may not carry a port']],
    ['# comment', ['skip:comment']],
    ['   ', ['skip:blank']],
  ])('%j → %j', (line, expected) => {
    expect(read('hosts', line)).toEqual(expected);
  });
});

describe('plain: one entry a line', () => {
  it.each([
    ['ads.example', ['e:ads.example']],
    ['ADS.Example.', ['e:ads.example']],
    ['ads.example # why', ['e:ads.example']],
    ['ads.example/path?q=1', ['e:ads.example/path?q=1']],
    ['198.51.100.7', ['e:198.51.100.7']],
    ['com', ['invalid:public-suffix']],
    ['line', ['invalid:public-suffix']],
    ['.co.uk', ['invalid:public-suffix']],
    ['10.0.0.0/8', ['invalid:address-range']],
    ['this line is garbage', ['invalid:plain-several-words']],
    ['0.0.0.0 ads.example', ['invalid:plain-several-words']],
    ['blogspot.com', ['e:blogspot.com (host only)']],
    ['#ads.example', ['skip:comment']],
    ['', ['skip:blank']],
  ])('%j → %j', (line, expected) => {
    expect(read('plain', line)).toEqual(expected);
  });
});

describe('adblock: the network rules that mean a host or URL prefix', () => {
  it.each([
    ['||ads.example^', ['e:ads.example']],
    ['||ads.example^|', ['e:ads.example']],
    ['||ads.example', ['e:ads.example']],
    ['||ads.example^$important', ['e:ads.example']],
    ['||ads.example^$all', ['e:ads.example']],
    ['||ads.example^$document', ['e:ads.example']],
    ['||ads.example/banners/', ['e:ads.example/banners/']],
    ['||ads.example^$third-party', ['skip:adblock-option $third-party']],
    ['||ads.example^$script,domain=news.example', ['skip:adblock-option $script']],
    ['||ads.example^$important,popup', ['skip:adblock-option $popup']],
    ['||com^', ['invalid:public-suffix']],
    ['||co.uk^', ['invalid:public-suffix']],
    ['||10.0.0.0/8^', ['invalid:address-range']],
    ['||*.ads.example^', ['skip:adblock-wildcard']],
    ['||ads.*.example^', ['skip:adblock-wildcard']],
    ['@@||ok.example^', ['skip:adblock-exception']],
    ['##.banner', ['skip:adblock-cosmetic']],
    ['news.example##.ad', ['skip:adblock-cosmetic']],
    ['news.example#@#.ad', ['skip:adblock-cosmetic']],
    ['news.example#$#abort-on-property-read x', ['skip:adblock-cosmetic']],
    ['/banner[0-9]+/', ['skip:adblock-regex']],
    ['|https://ads.example/', ['skip:adblock-address-anchor']],
    ['-ad-banner.', ['skip:adblock-not-host-rule']],
    ['ads.example', ['skip:adblock-not-host-rule']],
    ['||ads.example^path', ['skip:adblock-not-host-rule']],
    ['[Adblock Plus 2.0]', ['skip:adblock-header']],
    ['! Title: list', ['skip:comment']],
    ['', ['skip:blank']],
  ])('%j → %j', (line, expected) => {
    expect(read('adblock', line)).toEqual(expected);
  });
});

describe('squidguard: the loader’s own parser', () => {
  it.each([
    ['domains', '.ads.example', ['e:ads.example']],
    ['domains', 'com', ['invalid:public-suffix']],
    ['domains', '10.0.0.0/8', ['invalid:address-range']],
    ['urls', 'ads.example/x', ['e:ads.example/x']],
    ['urls', 'co.uk/x', ['invalid:public-suffix']],
    ['urls', '# c', ['skip:comment']],
  ] as const)('%s %j → %j', (kind, line, expected) => {
    expect(read('squidguard', line, kind)).toEqual(expected);
  });
});

describe('line shapes name the format a line is written in', () => {
  it.each([
    ['0.0.0.0 ads.example', 'hosts'],
    ['::1 localhost', 'hosts'],
    ['||ads.example^', 'adblock'],
    ['@@||ok.example^', 'adblock'],
    ['example.com##.ad', 'adblock'],
    ['ads.example', 'plain'],
    ['ads.example/path', 'plain'],
    ['this line is garbage', 'other'],
    ['<html><body>Not found</body></html>', 'other'],
    ['# comment', undefined],
    ['! comment', undefined],
    ['', undefined],
  ])('%j looks like %s', (line, shape) => {
    expect(lineShape(line)).toBe(shape);
  });
});
