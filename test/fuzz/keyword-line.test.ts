/**
 * Fuzzing the keyword-list line parser (parseKeywordLine in src/alerts/keywords/load.ts): every line is a
 * phrase, a removal, a comment or an error with a reason, and a phrase written back reads the same.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseKeywordLine } from '../../src/alerts/keywords/load.js';
import { phraseKey, SEVERITIES } from '../../src/alerts/keywords/match.js';
import { trickyText } from './arbitraries.js';
import { FUZZ_TIMEOUT, fuzzParams, outcome } from './fuzz.js';

const WORDS = [
  'kill',
  'my',
  'self',
  'K1LL',
  'ѕelf',
  'ｋｉｌｌ',
  'sélf',
  'a\u200bb',
  '@',
  '$$',
  '#',
  '-',
  '—',
  '...',
  'أنا',
  '中文',
];
const keywordLine = fc.oneof(
  trickyText(60),
  fc
    .tuple(
      fc.constantFrom('', '\ufeff', ' ', '-', '- ', '#'),
      fc.option(fc.constantFrom(...SEVERITIES, 'DANGER', 'Warning', 'urgent'), { nil: '' }),
      fc.array(fc.constantFrom(...WORDS), { maxLength: 6 }),
      fc.constantFrom(' ', '  ', '\t'),
    )
    .map(([lead, severity, words, gap]) => `${lead}${severity}${gap}${words.join(gap)}`),
);
const layer = fc.constantFrom('shipped' as const, 'local' as const);

describe('parseKeywordLine under fuzzing', () => {
  it(
    'gives an entry, a removal, nothing or an error with a reason: never a throw',
    () => {
      fc.assert(
        fc.property(keywordLine, layer, (line, from) => {
          const r = outcome(() => parseKeywordLine(line, from));
          expect(r.ok, r.ok ? '' : String(r.error)).toBe(true);
          const parsed = r.ok ? r.value : undefined;
          if (parsed === undefined) return;
          if (parsed.kind === 'error') expect(parsed.reason).toMatch(/\S/);
          if (parsed.kind === 'remove') expect(from).toBe('local');
          if (parsed.kind === 'entry' || parsed.kind === 'remove') {
            expect(parsed.key).not.toBe('');
            expect(parsed.key).toBe(phraseKey(parsed.phrase));
            expect(parsed.phrase).not.toContain('#');
          }
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'reads a phrase or removal written back as "<severity> <phrase>" / "-<phrase>" as the same line',
    () => {
      fc.assert(
        fc.property(keywordLine, layer, (line, from) => {
          const parsed = parseKeywordLine(line, from);
          if (parsed?.kind === 'entry')
            expect(parseKeywordLine(`${parsed.severity} ${parsed.phrase}`, from)).toEqual(parsed);
          if (parsed?.kind === 'remove') expect(parseKeywordLine(`-${parsed.phrase}`, from)).toEqual(parsed);
        }),
        fuzzParams(1000),
      );
    },
    FUZZ_TIMEOUT,
  );
});
