/**
 * Where a keyword phrase sits in the text a person typed, for highlighting it in reports (pure, no I/O).
 *
 * The matcher (match.ts) says whether a normalised text holds a phrase, not where in the original. Here the
 * original is cut into word runs (letters, marks, digits, the l33t symbols @ and $, and the invisible
 * characters normalisation removes, so `s<ZWSP>kill` stays one run as it is one token), and the smallest
 * sequence of runs that the same matcher accepts is the span. `k.i.l.l my-self` is therefore highlighted
 * from the `k` to the `f`, and a phrase is only ever found where the alert rule found it.
 */
import { compileKeywords, matchKeywords } from './match.js';

/** [start, end) offsets into the text, in UTF-16 code units, sorted and not overlapping. */
export type Span = readonly [start: number, end: number];

const WORD_RUN = /[\p{L}\p{M}\p{N}@$\p{Default_Ignorable_Code_Point}]+/gu;
/** Runs one span may cover (`k.i.l.l m.y.s.e.l.f` is 10); texts longer than MAX_RUNS are read up to there. */
const MAX_SPAN_RUNS = 48;
const MAX_RUNS = 400;

export function phraseSpans(text: string, phrase: string): Span[] {
  let index;
  try {
    index = compileKeywords([{ name: 'p', entries: [{ phrase, severity: 'advisory' }] }]);
  } catch {
    return []; // a phrase with no letters or digits matches nothing
  }
  if (matchKeywords(index, text).length === 0) return []; // one pass settles the common case
  const runs: Span[] = [];
  for (const m of text.matchAll(WORD_RUN)) {
    if (runs.length >= MAX_RUNS) break;
    runs.push([m.index, m.index + m[0].length]);
  }
  const holds = (from: number, to: number) =>
    matchKeywords(index, text.slice(runs[from]![0], runs[to]![1])).length > 0;
  const spans: Span[] = [];
  for (let i = 0; i < runs.length; i++) {
    const last = Math.min(runs.length - 1, i + MAX_SPAN_RUNS - 1);
    for (let j = i; j <= last; j++) {
      if (!holds(i, j)) continue;
      // The shortest run sequence from i that holds the phrase: it starts at i unless it also holds without i.
      if (j === i || !holds(i + 1, j)) {
        spans.push([runs[i]![0], runs[j]![1]]);
        i = j;
      }
      break;
    }
  }
  return spans;
}
