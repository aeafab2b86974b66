import { RE2JS } from 're2js';
import { lookupFastPath } from './lookup-fast-path.js';
import { requiredLiterals } from './regex-literals.js';
import { UrlLiteralFinder } from './url-literal-finder.js';
import type { ListMatch, Target } from './types.js';

/**
 * URL regex rules: squidGuard/UT1 `expressions` files, one regular expression a line, matched anywhere in
 * the canonical URL `host/path?query` without scheme or port (host normalised as every host is, path and
 * query as normalisePath() gives them, target.ts), case-insensitively, as squidGuard matches them.
 *
 * The engine is re2js, a pure-JavaScript port of RE2: matching time is linear in the URL whatever the
 * pattern, so a list line cannot stall the proxy with catastrophic backtracking (`(a+)+$`), and nothing
 * is built natively. Patterns RE2 does not take (backreferences, look-around) are refused line by line.
 * Rules are bounded: at most MAX_EXPRESSION_LENGTH characters each and MAX_EXPRESSIONS in one list set;
 * past either the line is invalid (counted and reported like any invalid line), never a crash.
 * A rule runs only when the URL holds one of the literals every match of it contains (regex-literals.ts):
 * most URLs hold none of UT1's, so most lookups run no regex at all. A rule with no such literal always runs.
 */
export const MAX_EXPRESSION_LENGTH = 1024;
// About 3 us per rule on a 100-character URL (re2js, measured): 200 rules cost at most ~0.6 ms a lookup.
export const MAX_EXPRESSIONS = 200;

export type ParsedExpression =
  { kind: 'skip' } | { kind: 'regex'; source: string; re: RE2JS } | { kind: 'invalid'; reason: string };

/** One line of an `expressions` file (blank lines and `#` comments are skipped). */
export function parseExpressionLine(line: string): ParsedExpression {
  const source = line.trim();
  if (source === '' || source.startsWith('#')) return { kind: 'skip' };
  if (source.length > MAX_EXPRESSION_LENGTH) return { kind: 'invalid', reason: 'regex-too-long' };
  try {
    return { kind: 'regex', source, re: RE2JS.compile(source, RE2JS.CASE_INSENSITIVE) };
  } catch {
    return { kind: 'invalid', reason: 'bad-regex' };
  }
}

/** The text a rule is matched against. */
export function regexSubject(target: Target): string {
  const host = target.hostKind === 'ipv6' ? `[${target.host}]` : target.host;
  return `${host}${target.path}`;
}

interface Rule {
  list: string;
  source: string;
  re: RE2JS;
  /** Lower-case strings one of which every match contains (regex-literals.ts), or undefined. */
  literals: string[] | undefined;
  /** Finds whether the URL may hold one of `literals`; undefined when there are none: the rule always runs. */
  mayMatch: UrlLiteralFinder | undefined;
}

const NONE: readonly ListMatch[] = Object.freeze([]);

export class ExpressionRules {
  private readonly rules: Rule[] = [];
  private readonly seen = new Set<string>();
  /** Every rule's literals together: when none is in the URL, no rule can match (undefined: some rule always runs). */
  private anyMayMatch: UrlLiteralFinder | undefined;

  get size(): number {
    return this.rules.length;
  }

  /** Adds a compiled rule; 'full' once MAX_EXPRESSIONS rules are held. */
  add(list: string, parsed: { source: string; re: RE2JS }): 'added' | 'full' {
    const key = `${list}\n${parsed.source}`;
    if (this.seen.has(key)) return 'added';
    if (this.rules.length >= MAX_EXPRESSIONS) return 'full';
    this.seen.add(key);
    const literals = requiredLiterals(parsed.source);
    this.rules.push({
      list,
      source: parsed.source,
      re: parsed.re,
      literals,
      mayMatch: literals === undefined ? undefined : new UrlLiteralFinder(literals),
    });
    const all = this.rules.map((r) => r.literals);
    this.anyMayMatch = all.every((l) => l !== undefined) ? new UrlLiteralFinder(all.flat()) : undefined;
    return 'added';
  }

  /** The rules as text, in order (to compile them again on another thread). */
  sources(): { list: string; source: string }[] {
    return this.rules.map(({ list, source }) => ({ list, source }));
  }

  /** The rules matching the target's URL; the shared empty array when none does (do not add to it). */
  match(target: Target): readonly ListMatch[] {
    if (this.rules.length === 0) return NONE;
    const { host, path } = target;
    // The finders take host and path apart (UrlLiteralFinder): the path starting with `/`.
    const fast = lookupFastPath.enabled && target.hostKind !== 'ipv6' && path.startsWith('/');
    // No rule's literal in the URL (the usual case): no regex can match it, none is run.
    if (fast && this.anyMayMatch !== undefined && !this.anyMayMatch.mayContain(host, path)) return NONE;
    const subject = regexSubject(target);
    let out: ListMatch[] | undefined;
    for (const r of this.rules) {
      if (fast && r.mayMatch !== undefined && !r.mayMatch.mayContain(host, path)) continue;
      if (r.re.test(subject)) (out ??= []).push({ list: r.list, entry: r.source, kind: 'regex' });
    }
    return out ?? NONE;
  }
}
