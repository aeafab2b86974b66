import { describe, expect, it } from 'vitest';
import { extractSearchTerm } from '../../../src/policy/search-terms.js';

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
  ])('%s%s → %s "%s"', (host, path, engine, term) => {
    expect(extractSearchTerm({ host }, path)).toEqual({ engine, term });
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
    expect(extractSearchTerm({ host }, path)).toBeNull();
  });

  it('bounds the stored term', () => {
    const long = 'a'.repeat(2000);
    expect(extractSearchTerm({ host: 'www.google.com' }, `/search?q=${long}`)!.term).toHaveLength(500);
  });
});
