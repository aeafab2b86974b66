/**
 * The keyword matcher: pure, no I/O. compileKeywords() turns the lists into one trie; matchKeywords()
 * finds every phrase in a text.
 *
 * A phrase is compiled to its KEY: its normalised tokens joined with nothing between them and repeated
 * characters collapsed (`Kill my-self` → `kilmyself`). A text is tokenised the same way (normalise.ts),
 * and from the start of every token the matcher walks the trie through the characters of that token and
 * the following ones, separators ignored, and reports a phrase when its key ends exactly at the end of a
 * token. So:
 *
 *   - word boundaries hold: a match starts at a token start and ends at a token end, so `skill`,
 *     `Scunthorpe`, `therapist` and `killer whale` never meet `kill`, `cunt`, `rapist` or `kill myself`;
 *   - separators between words or letters do not matter: `kill-my-self`, `kill_myself`, `killmyself`,
 *     `k.i.l.l myself` and `k i l l myself` are all `kilmyself`;
 *   - repeated letters are collapsed on both sides, also across separators (`killlll`, `kil l`);
 *   - each character may stand for several (`1` for i or l, `а` for a): the walk keeps the SET of trie
 *     nodes reached, which never holds more nodes than the trie has at that depth.
 *
 * Linear time: each walk is capped at a few times the longest key (a padded evasion longer than that is
 * not worth an unbounded walk), so matching costs O(tokens × cap × alternatives) with no backtracking
 * and no regular expression built from the lists.
 */
import { SchoolgateError } from '../../errors.js';
import { collapseRepeats, normaliseText, tokenise, tokenStrings } from './normalise.js';

export const SEVERITIES = ['danger', 'warning', 'advisory'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function isSeverity(s: string): s is Severity {
  return (SEVERITIES as readonly string[]).includes(s);
}

/** danger > warning > advisory. */
export function severityRank(s: Severity): number {
  return s === 'danger' ? 3 : s === 'warning' ? 2 : 1;
}

export interface KeywordEntry {
  /** The phrase as written in the list. */
  phrase: string;
  severity: Severity;
}

export interface KeywordList {
  /** The list's name: its file name (`selfharm`, `extremism`, ...). */
  name: string;
  entries: readonly KeywordEntry[];
}

export interface KeywordMatch {
  list: string;
  /** The phrase as written in the list (not the text that matched it). */
  phrase: string;
  severity: Severity;
}

interface TrieNode {
  /** The character on the edge into this node ('' for the root): a repeat of it stays here. */
  readonly char: string;
  readonly children: Map<string, TrieNode>;
  /** Phrases whose key ends here, one per list. */
  terminals: KeywordMatch[] | undefined;
}

export interface KeywordIndex {
  readonly root: TrieNode;
  /** The most characters one walk consumes (see the header). */
  readonly maxWalk: number;
  /** Distinct (list, key) pairs compiled. */
  readonly size: number;
  readonly lists: readonly string[];
}

/** The key a phrase is compiled to, '' when the phrase has no letters or digits at all. */
export function phraseKey(phrase: string): string {
  return collapseRepeats(tokenStrings(normaliseText(phrase)).join(''));
}

export function compileKeywords(lists: readonly KeywordList[]): KeywordIndex {
  const root: TrieNode = { char: '', children: new Map(), terminals: undefined };
  let longest = 0;
  let size = 0;
  for (const list of lists) {
    for (const entry of list.entries) {
      const key = phraseKey(entry.phrase);
      if (key === '') {
        throw new SchoolgateError(
          'SG_CATEGORY_INVALID',
          `Keyword list ${list.name}: the phrase "${entry.phrase}" has no letters or digits.`,
          { context: { list: list.name, phrase: entry.phrase }, suggestion: 'Write the phrase in words.' },
        );
      }
      let node = root;
      let length = 0;
      for (const ch of key) {
        let child = node.children.get(ch);
        if (child === undefined) {
          child = { char: ch, children: new Map(), terminals: undefined };
          node.children.set(ch, child);
        }
        node = child;
        length++;
      }
      longest = Math.max(longest, length);
      const terminals = (node.terminals ??= []);
      const same = terminals.findIndex((t) => t.list === list.name);
      const match = Object.freeze({ list: list.name, phrase: entry.phrase, severity: entry.severity });
      if (same === -1) {
        terminals.push(match);
        size++;
      } else if (severityRank(entry.severity) > severityRank(terminals[same]!.severity)) {
        terminals[same] = match;
      }
    }
  }
  return Object.freeze({
    root,
    maxWalk: 3 * longest + 16,
    size,
    lists: Object.freeze(lists.map((l) => l.name)),
  });
}

/** Work counted by matchKeywords() when asked: the tests check it grows linearly with the text. */
export interface MatchStats {
  /** Trie steps tried (states × alternatives, summed over every character walked). */
  steps: number;
}

/** Every phrase of the index found in the text, each (list, phrase) once, in order of first occurrence. */
export function matchKeywords(index: KeywordIndex, text: string, stats?: MatchStats): KeywordMatch[] {
  if (index.size === 0 || text === '') return [];
  const tokens = tokenise(text);
  const found = new Map<string, KeywordMatch>();
  for (let start = 0; start < tokens.length; start++) {
    let states: TrieNode[] = [index.root];
    let budget = index.maxWalk;
    for (let t = start; t < tokens.length && states.length > 0; t++) {
      for (const alts of tokens[t]!) {
        if (budget-- <= 0) {
          states = [];
          break;
        }
        const next: TrieNode[] = [];
        if (stats !== undefined) stats.steps += states.length * alts.length;
        for (const state of states) {
          for (const alt of alts) {
            const reached = advance(state, alt);
            if (reached !== undefined && !next.includes(reached)) next.push(reached);
          }
        }
        states = next;
        if (states.length === 0) break;
      }
      for (const state of states) {
        for (const m of state.terminals ?? []) {
          const id = `${m.list}\u0000${m.phrase}`;
          if (!found.has(id)) found.set(id, m);
        }
      }
    }
  }
  return [...found.values()];
}

/** The node reached from `node` through the characters of `s`, a repeat staying put; undefined = none. */
function advance(node: TrieNode, s: string): TrieNode | undefined {
  let at: TrieNode | undefined = node;
  for (const ch of s) {
    if (ch === at.char) continue;
    at = at.children.get(ch);
    if (at === undefined) return undefined;
  }
  return at;
}

/** The most severe of the matches, undefined when there are none. */
export function highestSeverity(matches: readonly KeywordMatch[]): Severity | undefined {
  let best: Severity | undefined;
  for (const m of matches)
    if (best === undefined || severityRank(m.severity) > severityRank(best)) best = m.severity;
  return best;
}
