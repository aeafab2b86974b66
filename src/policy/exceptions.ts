/**
 * Exceptions: a site allowed or blocked for one person, one profile or everyone, until an optional expiry.
 * Pure: the set is compiled once per snapshot and every lookup takes `now`, so an exception that ends stops
 * applying at that instant, with no reload.
 *
 * Which exception wins when several match one request (written down here, tested in exceptions.test.ts):
 *  1. the most specific scope: a user's beats a profile's, which beats everyone's (a pupil on a project gets
 *     YouTube although the year group's exception blocks it);
 *  2. at equal scope, block beats allow (the safe reading of two technicians disagreeing);
 *  3. then the entry closest to the requested host (the list index gives the most specific first), then the
 *     first compiled (the store loads them by id), so the result never depends on chance.
 * An exception whose `expiresAt` is at or before `now` does not apply (it ends at that instant exactly).
 */
import { parseEntry } from './entries.js';
import { ListIndex } from './list-index.js';
import type { Target } from './types.js';

export type ExceptionScope =
  { kind: 'user'; name: string } | { kind: 'profile'; name: string } | { kind: 'everyone' };

export type ExceptionAction = 'allow' | 'block';

export interface PolicyException {
  id: number;
  /** A domain, IP address or URL prefix without scheme, in list syntax. */
  site: string;
  action: ExceptionAction;
  scope: ExceptionScope;
  /** Epoch ms at which it stops applying; null: until removed. */
  expiresAt: number | null;
}

/** Who is asking, as far as exceptions care. */
export interface ExceptionSubject {
  user: string | null;
  profile: string;
}

export interface ExceptionHit {
  exception: PolicyException;
  /** The exception's entry that matched (its site). */
  entry: string;
}

export interface ExceptionSet {
  readonly size: number;
  /**
   * The deciding exception for this target and subject at `now`, or undefined. `blockOnly` looks only at
   * block exceptions (a look-alike's reading may only tighten a decision).
   */
  find(target: Target, who: ExceptionSubject, now: Date, blockOnly?: boolean): ExceptionHit | undefined;
}

const SCOPE_RANK: Record<ExceptionScope['kind'], number> = { user: 3, profile: 2, everyone: 1 };

/** Words for the scope, e.g. "user j.smith", "profile pupil", "everyone". */
export function describeScope(scope: ExceptionScope): string {
  return scope.kind === 'everyone' ? 'everyone' : `${scope.kind} ${scope.name}`;
}

/**
 * Compiles exceptions into one index. An exception whose site does not parse is a programming error here:
 * the store validates every site before writing it, and the loader refuses a row that does not parse.
 */
export function compileExceptions(exceptions: readonly PolicyException[]): ExceptionSet {
  const index = new ListIndex();
  const byList = new Map<string, PolicyException>();
  for (const e of exceptions) {
    const list = `exception:${e.id}`;
    const parsed = parseEntry(e.site);
    if (parsed.kind === 'domain') index.addDomain(parsed.host, list);
    else if (parsed.kind === 'ip') index.addIp(parsed.host, list);
    else if (parsed.kind === 'url')
      index.addUrl(parsed.host, parsed.path, list, parsed.hostKind !== 'domain');
    else throw new Error(`exception ${e.id}: site ${JSON.stringify(e.site)} is not an entry`);
    byList.set(list, Object.freeze({ ...e }));
  }
  return Object.freeze({
    size: byList.size,
    find(target: Target, who: ExceptionSubject, now: Date, blockOnly = false): ExceptionHit | undefined {
      if (byList.size === 0) return undefined;
      let best: ExceptionHit | undefined;
      for (const m of index.match(target)) {
        const e = byList.get(m.list);
        if (e === undefined || !covers(e.scope, who) || !inForce(e, now)) continue;
        if (blockOnly && e.action !== 'block') continue;
        if (best === undefined || beats(e, best.exception)) best = { exception: e, entry: m.entry };
      }
      return best;
    },
  });
}

export const NO_EXCEPTIONS: ExceptionSet = compileExceptions([]);

function covers(scope: ExceptionScope, who: ExceptionSubject): boolean {
  if (scope.kind === 'everyone') return true;
  if (scope.kind === 'profile') return scope.name === who.profile;
  return who.user !== null && scope.name === who.user;
}

export function inForce(e: Pick<PolicyException, 'expiresAt'>, now: Date): boolean {
  return e.expiresAt === null || now.getTime() < e.expiresAt;
}

/** Does `a` win over `b`? Matches arrive most specific host first, so an equal one keeps the earlier. */
function beats(a: PolicyException, b: PolicyException): boolean {
  const rank = SCOPE_RANK[a.scope.kind] - SCOPE_RANK[b.scope.kind];
  if (rank !== 0) return rank > 0;
  if (a.action !== b.action) return a.action === 'block';
  return false;
}
