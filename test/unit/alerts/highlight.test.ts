/** Where a keyword phrase sits in what a person typed: the span the reports mark (highlight.ts). */
import { describe, expect, it } from 'vitest';
import { phraseSpans } from '../../../src/alerts/keywords/highlight.js';

/** The marked parts of the text, in order. */
function marked(text: string, phrase: string): string[] {
  return phraseSpans(text, phrase).map(([s, e]) => text.slice(s, e));
}

describe('phraseSpans', () => {
  it.each([
    ['how to kill myself', 'kill myself', ['kill myself']],
    ['how to k1ll myself', 'kill myself', ['k1ll myself']],
    ['HOW TO KILLLLL MYSELF??', 'kill myself', ['KILLLLL MYSELF']],
    ['k.i.l.l my-self tonight', 'kill myself', ['k.i.l.l my-self']],
    ['kіll myself', 'kill myself', ['kіll myself']], // Cyrillic і
    ['ｋｉｌｌ ｍｙｓｅｌｆ', 'kill myself', ['ｋｉｌｌ ｍｙｓｅｌｆ']], // fullwidth
    ['su1c1de methods', 'suicide', ['su1c1de']],
    ['kill myself, kill myself', 'kill myself', ['kill myself', 'kill myself']],
    ['как совершить самоубийство', 'самоубийство', ['самоубийство']],
    ['s\u200bkill myself', 'kill myself', []], // an invisible character does not split "skill"
  ])('%j with %j → %j', (text, phrase, expected) => {
    expect(marked(text, phrase)).toEqual(expected);
  });

  it.each([
    ['skill building', 'kill'],
    ['killer whale facts', 'kill myself'],
    ['Scunthorpe United', 'cunt'],
    ['', 'kill'],
    ['kill myself', '...'], // a phrase with no letters matches nothing
  ])('%j never marks %j', (text, phrase) => {
    expect(phraseSpans(text, phrase)).toEqual([]);
  });

  it('returns the shortest span: the words before the phrase are not marked', () => {
    const text = 'please tell me how to kill myself now';
    expect(phraseSpans(text, 'kill myself')).toEqual([[22, 33]]);
  });
});
