/**
 * Text normalisation for keyword matching: done once per text, the same way for phrases and for what a
 * pupil typed, so an evasion that changes the bytes but not the words still meets the phrase.
 *
 *   1. NFKC (fullwidth, ligatures, mathematical letters → plain letters), lower case;
 *   2. invisible characters (zero-width spaces and joiners, soft hyphen, bidi marks) removed, so they
 *      neither split a word (`s<ZWSP>kill` stays `skill`) nor hide one;
 *   3. diacritics stripped from LATIN letters only (NFD, drop the marks that follow a Latin letter, NFC),
 *      plus the Latin letters NFD does not decompose (ł, ø, đ, ı, ß). Cyrillic й and Arabic
 *      letters keep their marks: they are other letters, not accents;
 *   4. Russian ё written as е (as most Russian text is), Arabic harakat and tatweel removed and the
 *      alef forms (أ إ آ ٱ) folded to ا, as Arabic search engines do;
 *   5. tokens: runs of letters, marks, digits and the l33t symbols @ and $; everything else separates;
 *   6. repeated characters collapsed inside a token (`killlll` → `kil`) — the compiled phrases are
 *      collapsed the same way (see match.ts, which also collapses across tokens as it walks).
 *
 * Each character of a token then carries its ALTERNATIVES: itself, its l33t readings (0→o, 1→i or l,
 * 3→e, 4→a, 5→s, 7→t, @→a, $→s) and, for a Cyrillic, Greek or Armenian letter, the Latin letter it
 * imitates (Unicode confusables skeleton). A Cyrillic word therefore still matches a Cyrillic phrase as
 * written (the letter itself is one alternative), while `kіll` with a Cyrillic і matches `kill`.
 *
 * The confusables come from `unhomoglyph` (nodeca, MIT, read through src/policy/lookalike.ts, which host
 * names share): the Unicode UTS #39 confusables.txt table as
 * one JSON map, no dependencies, ~130 KB, TypeScript types, from the maintainers of markdown-it. The
 * alternatives (`confusables` has an alphabet of its own, `unicode-confusables` only reports, `decancer`
 * is a native binary) either do not follow the Unicode table or weigh more. The table changes little
 * for the Latin look-alikes that matter here; its function is only called once per distinct character
 * (cached), never on a whole text, so its big alternation regex is not on the hot path.
 */
import { latinLookalike } from '../../policy/lookalike.js';

/** One token: for each (collapsed) character, the strings it may stand for, itself first. */
export type Token = readonly (readonly string[])[];

const INVISIBLE = /[\p{Default_Ignorable_Code_Point}]/gu;
const ARABIC_MARKS = /[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u0640]/g;
const ARABIC_ALEF = /[\u0622\u0623\u0625\u0671]/g;
const LATIN = /\p{Script=Latin}/u;
const MARK = /\p{M}/u;
const TOKEN_CHAR = /[\p{L}\p{M}\p{N}@$]/u;
const TOKEN_RUN = /[\p{L}\p{M}\p{N}@$]+/gu;
/** Scripts whose letters are used to imitate Latin ones. */
const LOOKALIKE_SCRIPT = /[\p{Script=Cyrillic}\p{Script=Greek}\p{Script=Armenian}]/u;

/** Latin letters with a stroke or other shapes that NFD leaves whole. */
const LATIN_EXTRA: Readonly<Record<string, string>> = {
  ł: 'l',
  ø: 'o',
  đ: 'd',
  ħ: 'h',
  ı: 'i',
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  þ: 'th',
};

const LEET: Readonly<Record<string, readonly string[]>> = {
  '0': ['o'],
  '1': ['i', 'l'],
  '3': ['e'],
  '4': ['a'],
  '5': ['s'],
  '7': ['t'],
  '@': ['a'],
  $: ['s'],
};

/** NFKC, lower case, invisible characters removed, Latin diacritics stripped, Arabic folded. */
export function normaliseText(text: string): string {
  const lowered = text.normalize('NFKC').toLowerCase().replace(INVISIBLE, '');
  let out = '';
  let afterLatin = false;
  for (const ch of lowered.normalize('NFD')) {
    if (MARK.test(ch)) {
      if (!afterLatin) out += ch;
      continue;
    }
    afterLatin = LATIN.test(ch);
    out += LATIN_EXTRA[ch] ?? ch;
  }
  return out.normalize('NFC').replace(/ё/g, 'е').replace(ARABIC_MARKS, '').replace(ARABIC_ALEF, '\u0627');
}

/** The tokens of a normalised text, each with repeated characters collapsed. */
export function tokenStrings(normalised: string): string[] {
  const tokens: string[] = [];
  for (const m of normalised.matchAll(TOKEN_RUN)) tokens.push(collapseRepeats(m[0]));
  return tokens;
}

/** `killlll` → `kil`: consecutive equal characters (code points) become one. */
export function collapseRepeats(s: string): string {
  let out = '';
  let prev = '';
  for (const ch of s) {
    if (ch !== prev) out += ch;
    prev = ch;
  }
  return out;
}

export function isTokenChar(ch: string): boolean {
  return TOKEN_CHAR.test(ch);
}

const altCache = new Map<string, readonly string[]>();
const ALT_CACHE_LIMIT = 20_000;

/** What one normalised character may stand for: itself, l33t readings, the Latin letter it imitates. */
export function alternativesOf(ch: string): readonly string[] {
  const cached = altCache.get(ch);
  if (cached !== undefined) return cached;
  const alts = [ch];
  for (const leet of LEET[ch] ?? []) alts.push(leet);
  if (LOOKALIKE_SCRIPT.test(ch)) {
    const latin = latinLookalike(ch);
    if (latin !== undefined && !alts.includes(latin)) alts.push(latin);
  }
  const frozen = Object.freeze(alts);
  if (altCache.size < ALT_CACHE_LIMIT) altCache.set(ch, frozen);
  return frozen;
}

/** Normalise, tokenise and attach the alternatives: the form matchKeywords() walks. */
export function tokenise(text: string): Token[] {
  return tokenStrings(normaliseText(text)).map((t) => Array.from(t, alternativesOf));
}
