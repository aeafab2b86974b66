/**
 * A prefilter for URL regex rules (url-regex.ts): from a pattern's text, strings at least one of which
 * every match must contain, so a lookup can skip the regex after a few indexOf calls when none is in the
 * URL. `(/banner/|/sponsor/)` gives ['/banner/', '/sponsor/']; `^[0-9]+\.[0-9]+/search\?q=[0-9]+$` gives
 * ['/search?q='].
 *
 * The analysis is conservative: it reads a subset of RE2 syntax (literals, escaped punctuation, `.`,
 * classes, groups, alternation, repetition, anchors, \d \w \s \b and their negations) and gives undefined
 * (no prefilter: the regex always runs) for anything else, and for any pattern with a non-ASCII character.
 * The literals are lower-case: rules match case-insensitively, so url-literal-finder.ts compares them so,
 * and answers yes for a URL with a non-ASCII character (RE2 folds `k` with the Kelvin sign, `s` with `ſ`).
 */

/** Most strings an exact set or a literal set may hold before the analysis stops tracking it. */
const MAX_SET = 64;

class Unsupported extends Error {}

/**
 * What a sub-pattern is known to match: `exact`, every string it can match (a small finite set), and
 * `required`, strings one of which every match contains. Either may be unknown.
 */
interface Info {
  exact: string[] | undefined;
  required: string[] | undefined;
}

const ANY: Info = { exact: undefined, required: undefined };

/** Lower-case strings one of which every match of `source` contains, or undefined when unsure. */
export function requiredLiterals(source: string): string[] | undefined {
  try {
    const parser = new Parser(source);
    const info = parser.alternation();
    if (!parser.done()) return undefined; // an unbalanced ')' (RE2 refuses it anyway)
    const literals = asRequired(info);
    return literals === undefined ? undefined : minimal(literals);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/** The strings one of which every match contains; undefined when nothing (or the empty string) is known. */
function asRequired(info: Info): string[] | undefined {
  const set = info.exact ?? info.required;
  return set === undefined || set.length === 0 || set.includes('') ? undefined : set;
}

/** Drops strings that contain another of the set: the shorter one is present whenever they are. */
function minimal(set: string[]): string[] {
  const unique = [...new Set(set)];
  return unique.filter((s) => !unique.some((t) => t !== s && s.includes(t)));
}

function cross(a: string[], b: string[]): string[] | undefined {
  if (a.length * b.length > MAX_SET) return undefined;
  const out: string[] = [];
  for (const x of a) for (const y of b) out.push(x + y);
  return [...new Set(out)];
}

/** The better of two literal sets: the longer shortest string (rarer in a URL), then the fewer strings. */
function better(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const score = (s: string[]) => Math.min(...s.map((x) => x.length));
  if (score(a) !== score(b)) return score(a) > score(b) ? a : b;
  return a.length <= b.length ? a : b;
}

function concatenation(parts: Info[]): Info {
  let exact: string[] | undefined = [''];
  let required: string[] | undefined;
  let run: string[] | undefined = [''];
  for (const part of parts) {
    exact = exact && part.exact ? cross(exact, part.exact) : undefined;
    if (part.exact === undefined) {
      required = better(required, run && asRequired({ exact: run, required: undefined }));
      required = better(required, asRequired(part));
      run = [''];
      continue;
    }
    const grown = cross(run ?? [''], part.exact);
    if (grown === undefined) {
      // Too many combinations: keep what the run had, start again from this part.
      required = better(required, run && asRequired({ exact: run, required: undefined }));
      run = part.exact;
    } else run = grown;
  }
  required = better(required, run && asRequired({ exact: run, required: undefined }));
  return { exact, required };
}

function alternation(branches: Info[]): Info {
  let exact: string[] | undefined = [];
  let required: string[] | undefined = [];
  for (const branch of branches) {
    exact = exact && branch.exact ? [...exact, ...branch.exact] : undefined;
    const need = asRequired(branch);
    required = required && need ? [...required, ...need] : undefined;
  }
  if (exact !== undefined) exact = [...new Set(exact)];
  if (exact !== undefined && exact.length > MAX_SET) exact = undefined;
  if (required !== undefined) required = minimal(required);
  if (required !== undefined && required.length > MAX_SET) required = undefined;
  return { exact, required };
}

function repetition(info: Info, min: number, max: number): Info {
  if (min === 1 && max === 1) return info;
  if (min === 0 && max === 1 && info.exact !== undefined)
    return { exact: [...new Set(['', ...info.exact])], required: undefined };
  if (min === 0) return ANY;
  return { exact: undefined, required: asRequired(info) };
}

const REPEAT = /^\{(\d+)(,(\d*))?\}/;
const CLASS_ESCAPES = 'dDwWsS';
const ASSERTION_ESCAPES = 'bBAz';

class Parser {
  private at = 0;

  constructor(private readonly text: string) {}

  done(): boolean {
    return this.at === this.text.length;
  }

  alternation(): Info {
    const branches = [this.concatenation()];
    while (this.text[this.at] === '|') {
      this.at++;
      branches.push(this.concatenation());
    }
    return branches.length === 1 ? branches[0]! : alternation(branches);
  }

  private concatenation(): Info {
    const parts: Info[] = [];
    while (!this.done() && this.text[this.at] !== '|' && this.text[this.at] !== ')') {
      let info = this.atom();
      for (;;) {
        const repeat = this.repeat();
        if (repeat === undefined) break;
        info = repetition(info, repeat.min, repeat.max);
      }
      parts.push(info);
    }
    return concatenation(parts);
  }

  private repeat(): { min: number; max: number } | undefined {
    const c = this.text[this.at];
    let result: { min: number; max: number };
    if (c === '*') result = { min: 0, max: Infinity };
    else if (c === '+') result = { min: 1, max: Infinity };
    else if (c === '?') result = { min: 0, max: 1 };
    else if (c === '{') {
      const m = REPEAT.exec(this.text.slice(this.at));
      if (m === null) throw new Unsupported(); // RE2 reads a stray `{` as a literal: not worth the doubt
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.at += m[0].length - 1;
      result = { min, max };
    } else return undefined;
    this.at++;
    if (this.text[this.at] === '?') this.at++; // non-greedy: the same strings
    return result;
  }

  private atom(): Info {
    const c = this.text[this.at]!;
    if (c.charCodeAt(0) > 0x7f) throw new Unsupported();
    this.at++;
    switch (c) {
      case '(':
        return this.group();
      case '[':
        this.skipClass();
        return ANY;
      case '.':
        return ANY;
      case '^':
      case '$':
        return { exact: [''], required: undefined };
      case '\\':
        return this.escape();
      case '*':
      case '+':
      case '?':
      case '{':
        throw new Unsupported();
      default:
        return { exact: [c.toLowerCase()], required: undefined };
    }
  }

  private group(): Info {
    if (this.text.startsWith('?:', this.at)) this.at += 2;
    else if (this.text.startsWith('?P<', this.at) || this.text.startsWith('?<', this.at)) {
      const close = this.text.indexOf('>', this.at);
      if (close === -1) throw new Unsupported();
      this.at = close + 1;
    } else if (this.text[this.at] === '?') throw new Unsupported(); // flags, look-around
    const info = this.alternation();
    if (this.text[this.at] !== ')') throw new Unsupported();
    this.at++;
    return info;
  }

  private escape(): Info {
    const c = this.text[this.at];
    if (c === undefined || c.charCodeAt(0) > 0x7f) throw new Unsupported();
    this.at++;
    if (CLASS_ESCAPES.includes(c)) return ANY;
    if (ASSERTION_ESCAPES.includes(c)) return ANY;
    if (/[A-Za-z0-9]/.test(c)) throw new Unsupported(); // \n, \x41, \pL, \Q...\E, \1: not read here
    return { exact: [c], required: undefined };
  }

  /** Past a `[...]` class (whatever it holds: it stands for one unknown character). */
  private skipClass(): void {
    if (this.text[this.at] === '^') this.at++;
    if (this.text[this.at] === ']') this.at++;
    for (;;) {
      const c = this.text[this.at];
      if (c === undefined) throw new Unsupported();
      this.at++;
      if (c === ']') return;
      if (c === '[' && this.text[this.at] === ':') throw new Unsupported();
      if (c === '\\') {
        const next = this.text[this.at];
        if (next === undefined || (/[A-Za-z0-9]/.test(next) && !CLASS_ESCAPES.includes(next)))
          throw new Unsupported();
        this.at++;
      }
    }
  }
}
