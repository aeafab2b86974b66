import { describe, expect, it } from 'vitest';
import { extractSearchTerm } from '../../../src/policy/search-terms.js';
import { normalisePath } from '../../../src/policy/target.js';
import { ENDPOINTS } from './factories.js';

const term = (host: string, raw: string, form?: string) =>
  extractSearchTerm(
    ENDPOINTS,
    { host, path: normalisePath(raw) },
    form === undefined ? undefined : new URLSearchParams(form),
  );

describe('search terms from search-engine URLs', () => {
  it.each([
    ['www.google.com', '/search?q=how+to+revise&hl=en', 'google', 'how to revise'],
    ['www.google.co.uk', '/search?hl=en&q=caf%C3%A9', 'google', 'café'],
    ['google.de', '/search?q=a', 'google', 'a'],
    ['www.bing.com', '/search?q=volcano%20facts&form=QBLH', 'bing', 'volcano facts'],
    ['www.bing.com', '/images/search?q=cats', 'bing', 'cats'],
    ['duckduckgo.com', '/?q=%22exact+phrase%22&t=h_', 'duckduckgo', '"exact phrase"'],
    ['html.duckduckgo.com', '/html/?q=x', 'duckduckgo', 'x'],
    ['search.yahoo.com', '/search?p=weather+leeds', 'yahoo', 'weather leeds'],
    ['uk.search.yahoo.com', '/search;_ylt=abc?p=maths', 'yahoo', 'maths'],
    ['www.youtube.com', '/results?search_query=minecraft+tutorial', 'youtube', 'minecraft tutorial'],
    ['m.youtube.com', '/results?search_query=a%0Ab', 'youtube', 'a b'],
  ])('%s%s → %s "%s"', (host, path, engine, expected) => {
    expect(term(host, path)).toEqual({ engine, term: expected });
  });

  it.each([
    ['www.google.com', '/maps?q=leeds'],
    ['www.google.com', '/search'],
    ['www.google.com', '/search?q=+++'],
    ['notgoogle.com', '/search?q=x'],
    ['googleapis.com', '/search?q=x'],
    ['www.youtube.com', '/watch?v=abc'],
    ['example.com', '/search?q=x'],
  ])('%s%s is not a search', (host, path) => {
    expect(term(host, path)).toBeNull();
  });

  it.each([
    ['extra slash', 'www.google.com', '//search?q=x'],
    ['encoded path segment', 'www.google.com', '/%73earch?q=x'],
    ['dot segment', 'www.google.com', '/images/../search?q=x'],
    ['upper case path', 'www.google.com', '/SEARCH?q=x'],
    ['path parameter', 'www.google.com', '/search;x=1?q=x'],
    ['trailing slash', 'www.google.com', '/search/?q=x'],
    ['encoded key', 'www.google.com', '/search?%71=x'],
    ['DuckDuckGo lite', 'lite.duckduckgo.com', '/lite/?q=x'],
    ['DuckDuckGo html', 'html.duckduckgo.com', '/html?q=x'],
    ['Bing images', 'www.bing.com', '/images/search?q=x'],
    ['Google images home', 'www.google.co.uk', '/imghp?q=x'],
  ])('%s: %s%s is a search for "x"', (_why, host, path) => {
    expect(term(host, path)?.term).toBe('x');
  });

  it('reads the term of a POST form, and keeps every distinct value', () => {
    expect(term('html.duckduckgo.com', '/html/', 'q=posted+term&b=')).toEqual({
      engine: 'duckduckgo',
      term: 'posted term',
    });
    expect(term('www.google.com', '/search?q=maths', 'q=other')?.term).toBe('maths | other');
    expect(term('www.youtube.com', '/results', 'search_query=x')).toBeNull(); // YouTube takes no forms
  });

  it('bounds the stored term', () => {
    const long = 'a'.repeat(2000);
    expect(term('www.google.com', `/search?q=${long}`)!.term).toHaveLength(500);
  });
});
