/**
 * Look-alike host names (hostile-inputs A08, issue 11): `pоrnhub.com` with a Cyrillic о is another name
 * than `pornhub.com`, so the lists never name it, yet it reads the same. decide() looks such a name up a
 * second time under its Latin reading (its skeleton), and blocks a label that mixes scripts no real name
 * mixes. Pure, and only ever called for names with an IDN (`xn--`) label: plain ASCII names cost nothing.
 *
 * The Latin reading of a character comes from `unhomoglyph` (the Unicode UTS #39 confusables table), kept
 * only where the prototype is plain ASCII letters, plus the letters that pass for Latin in running text
 * although the table maps them elsewhere. ASCII characters are never changed: the table maps `m` to `rn`
 * and `l` to `I`, which would make the reading of a listed name differ from the name itself.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import unhomoglyph from 'unhomoglyph';

const ASCII_LETTERS = /^[a-z]+$/;

/**
 * Lower-case look-alikes that UTS #39 maps to a non-ASCII prototype (small capitals, kra, pi...), but
 * that pass for the Latin letter in running text: к for k, м for m, т for t, and so on.
 */
const LOOKALIKE_EXTRA: Readonly<Record<string, string>> = {
  к: 'k',
  м: 'm',
  т: 't',
  в: 'b',
  н: 'h',
  п: 'n',
  ь: 'b',
  ї: 'i',
  κ: 'k',
  τ: 't',
  η: 'n',
  β: 'b',
  ω: 'w',
  χ: 'x',
};

const readingCache = new Map<string, string | null>();
const READING_CACHE_LIMIT = 20_000;

/** The ASCII letter(s) a non-ASCII character imitates, or undefined. Cached: the table is one big regex. */
export function latinLookalike(ch: string): string | undefined {
  const cached = readingCache.get(ch);
  if (cached !== undefined) return cached ?? undefined;
  const skeleton = unhomoglyph(ch).normalize('NFKC').toLowerCase();
  const reading = ASCII_LETTERS.test(skeleton) ? skeleton : (LOOKALIKE_EXTRA[ch] ?? null);
  if (readingCache.size < READING_CACHE_LIMIT) readingCache.set(ch, reading);
  return reading ?? undefined;
}

export interface HostLookalike {
  /** The host with every IDN label replaced by its Latin reading (ToASCII again): equal to the host when no letter imitates another. */
  reading: string;
  /** A label mixes scripts that no registry lets one label mix (Latin with Cyrillic, Greek with Cyrillic...). */
  mixedScript: boolean;
}

/** For a canonical domain (normaliseHost's output); undefined when it has no IDN label. */
export function lookalikeOf(host: string): HostLookalike | undefined {
  if (!host.includes('xn--')) return undefined;
  let mixedScript = false;
  const labels = host.split('.').map((label) => {
    if (!label.startsWith('xn--')) return label;
    const unicode = domainToUnicode(label);
    mixedScript ||= mixesScripts(unicode);
    return latinReading(label, unicode);
  });
  return { reading: labels.join('.'), mixedScript };
}

function latinReading(label: string, unicode: string): string {
  let reading = '';
  for (const ch of unicode) reading += ch.charCodeAt(0) < 0x80 ? ch : (latinLookalike(ch) ?? ch);
  if (reading === unicode) return label;
  // Still partly non-ASCII (a letter that imitates nothing): its punycode, as the lists would hold it.
  return domainToASCII(reading) || label;
}

/**
 * Scripts a letter is tested against, in order (most names are Latin, and the scripts that imitate Latin
 * come next). A letter in none of them counts as 'Other': two such scripts in one label are not told
 * apart, which only matters for labels that imitate no Latin letter.
 */
const SCRIPTS = [
  'Latin',
  'Cyrillic',
  'Greek',
  'Armenian',
  'Cherokee',
  'Georgian',
  'Coptic',
  'Han',
  'Hiragana',
  'Katakana',
  'Bopomofo',
  'Hangul',
  'Arabic',
  'Hebrew',
  'Devanagari',
  'Thai',
].map((name) => ({ name, test: new RegExp(`^\\p{Script=${name}}$`, 'u') }));
const LETTER = /^\p{L}$/u;

/**
 * UTS #39 "highly restrictive": one script per label, or Latin with the scripts written beside it in East
 * Asia (Han with Hiragana and Katakana, with Bopomofo, or with Hangul). Digits, hyphens and marks belong
 * to every script and are not counted.
 */
const ALLOWED_WITH_LATIN_AND_HAN: readonly (readonly string[])[] = [
  ['Hiragana', 'Katakana'],
  ['Bopomofo'],
  ['Hangul'],
];

export function mixesScripts(label: string): boolean {
  const scripts = new Set<string>();
  for (const ch of label) {
    if (!LETTER.test(ch)) continue;
    scripts.add(SCRIPTS.find((s) => s.test.test(ch))?.name ?? 'Other');
  }
  if (scripts.size <= 1) return false;
  const rest = [...scripts].filter((s) => s !== 'Latin' && s !== 'Han');
  return !ALLOWED_WITH_LATIN_AND_HAN.some((allowed) => rest.every((s) => allowed.includes(s)));
}
