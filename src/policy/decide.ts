import { illegalTierDecision } from './illegal-tier.js';
import { describeScope, type ExceptionHit } from './exceptions.js';
import { profileEntryLists } from './lists.js';
import { embeddedTargets } from './loophole.js';
import { lookalikeOf } from './lookalike.js';
import { pathReadings } from './path-readings.js';
import { openWindows } from './time.js';
import {
  ACTION_SEVERITY,
  type Action,
  type CategoryLists,
  type Decision,
  type ListMatch,
  type PolicyRequest,
  type Profile,
  type Rule,
  type Target,
  type TimeWindow,
  type Via,
} from './types.js';

/**
 * decide(): the pure policy function. No I/O, no clock: `now` is passed in.
 *
 * Precedence, first that applies wins:
 *  0. the illegal-content tier (illegal-tier.ts) → block for everyone (rule 'illegal-tier'), on every reading
 *     of the path, the embedded target of a translator and the Latin reading of a look-alike alike; nothing
 *     below (and nothing after decide(): Continue, pilot mode) can undo it. An unusable tier blocks all.
 *  1. exceptions in force at `now`    → their action (rule 'exception-block' / 'exception-allow'): for the
 *     request's user, their profile or everyone; the most specific scope wins, then block over allow
 *     (exceptions.ts). An expired one no longer matches, with no reload.
 *  2. profile deny entries            → block   (rule 'profile-deny'; deny beats allow)
 *  3. profile allow entries           → allow   (rule 'profile-allow')
 *  4. matched categories              → each matched category's action is the profile's action for it,
 *     replaced by the action of any open time window that names it (several open windows: the most
 *     restrictive); categories the profile does not name are 'allow'. Across categories the most
 *     restrictive action wins, block > warn > allow (rule 'category', or 'time-window' when a window set
 *     the winning action). Ties go to the first category by name, so the result is deterministic.
 *  5. IP-literal host, nothing matched → profile.ipLiterals (rule 'ip-literal')
 *  6. otherwise                        → profile.defaultAction (rule 'default')
 * Loophole sites: when the target is a translator/archive endpoint (the endpoint table in `lists`), every
 * reading of its embedded target is decided too (in the query, the path, the host, or a form body); if a
 * list entry (deny, category) makes one more restrictive than the outer result, that decision is returned
 * with `via` set and an explanation saying so. Its defaults never override the outer decision.
 * Ambiguity fails closed (rule 'ambiguous-url'): a path whose readings (path-readings.ts: `;params`,
 * `%2F`, double encoding) are decided differently, or a translator target no URL parser reads.
 * Look-alikes (lookalike.ts): a name with an IDN label is decided on its Latin reading too, unless a
 * profile entry names the real name. The reading can only tighten: its deny entries and categories count
 * when more restrictive, its allow entries never (a look-alike of an allowed site is how phishing works).
 * A label that mixes scripts and matched nothing is blocked (rule 'mixed-script-host'), whatever the
 * profile's default: no registry sells such names and browsers show them as punycode, so its only use is
 * to pass for another name, one our lists may not hold (and a school allows such a name by allow entry).
 *
 * Every decision carries all category matches (flagged/alert are computed from them, whatever decided), so
 * an allow entry for a flagged site still shows up in an investigation.
 */
export function decide(request: PolicyRequest, profile: Profile, lists: CategoryLists, now: Date): Decision {
  const illegal = illegalTierDecision(lists.illegal, request.target, profile.name);
  if (illegal !== undefined) return illegal;
  const user = request.user ?? null;
  const outer = decideName(request.target, profile, lists, now, undefined, user);
  // Already blocked: only the tier could still say more (a translator's target on it is its hit, and alert).
  if (outer.action === 'block')
    return outer.rule.kind === 'illegal-tier' ? outer : (illegalVia(request, profile, lists) ?? outer);
  for (const path of pathReadings(request.target.path).slice(1)) {
    const other = decideName({ ...request.target, path }, profile, lists, now, undefined, user);
    if (other.action !== outer.action) return ambiguous(profile, outer, other, request.target.host, path);
  }
  const embedded = embeddedTargets(lists.endpoints, request.target, request.form);
  let worst = outer;
  // The service fetches the target with its own reading of the path: every reading is decided, the strictest kept.
  for (const via of embedded.vias)
    for (const path of pathReadings(via.target.path)) {
      const target = { ...via.target, path };
      const inner = decideName(target, profile, lists, now, { ...via, target }, user);
      worst = tightened(worst, inner) ?? worst;
    }
  if (worst === outer && embedded.unreadable !== undefined)
    return unreadable(profile, outer, request.target.host, embedded.unreadable);
  return worst;
}

/** The more restrictive `other`, when a list entry (not a default) made it so, carrying both sides' matches. */
function tightened(base: Decision, other: Decision): Decision | undefined {
  // The illegal-content tier outranks any other block: its hit is recorded and alerted as such.
  const tier = other.rule.kind === 'illegal-tier' && base.rule.kind !== 'illegal-tier';
  if (
    !tier &&
    (!LIST_RULES.has(other.rule.kind) || ACTION_SEVERITY[other.action] <= ACTION_SEVERITY[base.action])
  ) {
    return undefined;
  }
  return {
    ...other,
    categories: uniqueSorted([...other.categories, ...base.categories]),
    matches: [...other.matches, ...base.matches],
    flagged: other.flagged || base.flagged,
    alert: other.alert || base.alert,
  };
}

const EXPLICIT_RULES: ReadonlySet<Rule['kind']> = new Set([
  'illegal-tier',
  'exception-block',
  'exception-allow',
  'profile-deny',
  'profile-allow',
]);

/** One host's decision: on its real name, then (IDN labels only) on its Latin reading. */
function decideName(
  target: Target,
  profile: Profile,
  lists: CategoryLists,
  now: Date,
  via: Via | undefined,
  user: string | null,
): Decision {
  const real = decideTarget(target, profile, lists, now, via, user);
  if (target.hostKind !== 'domain' || EXPLICIT_RULES.has(real.rule.kind)) return real;
  const lookalike = lookalikeOf(target.host);
  if (lookalike === undefined) return real;
  if (lookalike.reading !== target.host) {
    const subject = `${describeTarget(target, via)}, which looks like ${lookalike.reading},`;
    const read = decideTarget(
      { ...target, host: lookalike.reading },
      profile,
      lists,
      now,
      via,
      user,
      subject,
    );
    const tighter = tightened(real, read);
    if (tighter !== undefined) return { ...tighter, lookalike: lookalike.reading };
  }
  if (!lookalike.mixedScript || real.rule.kind !== 'default') return real;
  return {
    ...real,
    action: 'block',
    rule: { kind: 'mixed-script-host', list: 'policy', entry: '' },
    explanation: `Blocked for profile ${profile.name}: ${describeTarget(target, via)} mixes letters of different alphabets in one name, a way to pass for another site.`,
  };
}

/** The tier's decision on a translator's or archive's embedded target, when it holds one. */
function illegalVia(request: PolicyRequest, profile: Profile, lists: CategoryLists): Decision | undefined {
  if (lists.illegal === undefined || lists.illegal.state !== 'loaded') return undefined;
  for (const via of embeddedTargets(lists.endpoints, request.target, request.form).vias) {
    const hit = illegalTierDecision(lists.illegal, via.target, profile.name);
    if (hit !== undefined) return { ...hit, via };
  }
  return undefined;
}

/** Two readings of one path an upstream could take are decided differently: block, naming both. */
function ambiguous(profile: Profile, a: Decision, b: Decision, host: string, path: string): Decision {
  return {
    action: 'block',
    profile: profile.name,
    categories: uniqueSorted([...a.categories, ...b.categories]),
    rule: { kind: 'ambiguous-url', list: 'path-readings', entry: path.slice(0, 200) },
    matches: [...a.matches, ...b.matches],
    flagged: a.flagged || b.flagged,
    alert: a.alert || b.alert,
    explanation: `Blocked for profile ${profile.name}: the address on ${host} can be read in two ways that the filter decides differently (${a.action} and ${b.action}), so it is blocked to be safe.`,
  };
}

/** A translator or archive asked for a target no URL parser reads: the service may still fetch something. */
function unreadable(profile: Profile, outer: Decision, host: string, value: string): Decision {
  return {
    ...outer,
    action: 'block',
    rule: { kind: 'ambiguous-url', list: 'embedded-target', entry: value },
    explanation: `Blocked for profile ${profile.name}: ${host} was asked to fetch an address the filter cannot read, so it is blocked to be safe.`,
  };
}

/** decide(), failing closed: any exception becomes a block with rule 'policy-error' (never fail open). */
export function decideSafely(
  request: PolicyRequest,
  profile: Profile,
  lists: CategoryLists,
  now: Date,
): Decision {
  try {
    return decide(request, profile, lists, now);
  } catch (err) {
    return {
      action: 'block',
      profile: profile.name,
      categories: [],
      rule: { kind: 'policy-error', list: 'policy', entry: '' },
      matches: [],
      flagged: false,
      alert: false,
      explanation: `Blocked for profile ${profile.name}: the filter could not check this address, so it is blocked to be safe.`,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

const LIST_RULES: ReadonlySet<Rule['kind']> = new Set([
  'illegal-tier',
  'exception-block',
  'profile-deny',
  'category',
  'time-window',
]);

function decideTarget(
  target: Target,
  profile: Profile,
  lists: CategoryLists,
  now: Date,
  via: Via | undefined,
  user: string | null,
  /** Set when deciding a look-alike's reading: how to name it. Allow entries do not count for a reading. */
  readingOf?: string,
): Decision {
  // The tier again for what decide() did not see at its top: an embedded target, a look-alike's reading.
  if (via !== undefined || readingOf !== undefined) {
    const illegal = illegalTierDecision(lists.illegal, target, profile.name);
    if (illegal !== undefined) return via === undefined ? illegal : { ...illegal, via };
  }
  const exception = lists.exceptions?.find(
    target,
    { user, profile: profile.name },
    now,
    readingOf !== undefined,
  );
  const entryLists = profileEntryLists(profile);
  const denyMatches = entryLists.deny.match(target);
  const allowMatches = readingOf === undefined ? entryLists.allow.match(target) : [];
  const categoryMatches = lists.match(target);
  const categories = uniqueSorted(categoryMatches.map((m) => m.list));
  const subject = readingOf ?? describeTarget(target, via);
  const who = `for profile ${profile.name}`;

  let action: Action;
  let rule: Rule;
  let explanation: string;
  const deny = denyMatches[0];
  const allow = allowMatches[0];
  if (exception !== undefined) {
    action = exception.exception.action;
    rule = {
      kind: `exception-${action}`,
      list: `exception:${exception.exception.id}`,
      entry: exception.entry,
    };
    explanation = `${VERB[action]} ${who}: ${subject} ${exceptionWords(exception)}.`;
  } else if (deny !== undefined) {
    action = 'block';
    rule = { kind: 'profile-deny', list: entryLists.deny.name, entry: deny.entry };
    explanation = `Blocked ${who}: ${subject} is on the profile's deny list (entry ${deny.entry}).`;
  } else if (allow !== undefined) {
    action = 'allow';
    rule = { kind: 'profile-allow', list: entryLists.allow.name, entry: allow.entry };
    explanation = `Allowed ${who}: ${subject} is on the profile's allow list (entry ${allow.entry}).`;
  } else if (categoryMatches.length > 0) {
    const winner = strictestCategory(categories, categoryMatches, profile, openWindows(profile, now));
    const title = lists.categories.get(winner.category)?.title ?? winner.category;
    const during = winner.window === undefined ? '' : ` during ${winner.window}`;
    action = winner.action;
    rule = {
      kind: winner.window === undefined ? 'category' : 'time-window',
      list: winner.window ?? winner.category,
      entry: winner.match.entry,
      category: winner.category,
    };
    explanation = `${VERB[action]} ${who}${during}: ${subject} is in category ${title} (entry ${winner.match.entry}).`;
  } else if (target.hostKind !== 'domain') {
    action = profile.ipLiterals;
    rule = { kind: 'ip-literal', list: `profile:${profile.name}:ipLiterals`, entry: '' };
    explanation = `${VERB[action]} ${who}: ${subject} is a bare IP address that is in no list.`;
  } else {
    action = profile.defaultAction;
    rule = { kind: 'default', list: `profile:${profile.name}:defaultAction`, entry: '' };
    explanation = `${VERB[action]} ${who}: ${subject} is in no list, so the profile's default applies.`;
  }

  let flagged = false;
  let alert = false;
  for (const c of categories) {
    const meta = lists.categories.get(c);
    flagged ||= meta?.flagged === true;
    alert ||= meta?.alert === true;
  }
  // One object literal with a fixed shape: object spreads here cost more than all three list lookups.
  const decision: Decision = {
    action,
    profile: profile.name,
    categories,
    rule,
    matches:
      denyMatches.length + allowMatches.length === 0
        ? categoryMatches
        : [...denyMatches, ...allowMatches, ...categoryMatches],
    flagged,
    alert,
    explanation,
  };
  if (via !== undefined) decision.via = via;
  if (exception !== undefined) decision.exception = exceptionRef(exception);
  return decision;
}

function exceptionWords({ exception: e }: ExceptionHit): string {
  const until = e.expiresAt === null ? 'with no end date' : `until ${new Date(e.expiresAt).toISOString()}`;
  return `is ${e.action === 'allow' ? 'allowed' : 'blocked'} by exception ${e.id} for ${describeScope(e.scope)}, ${until}`;
}

function exceptionRef({ exception: e }: ExceptionHit): NonNullable<Decision['exception']> {
  return {
    id: e.id,
    scope: e.scope,
    expiresAt: e.expiresAt === null ? null : new Date(e.expiresAt).toISOString(),
  };
}

interface CategoryChoice {
  category: string;
  action: Action;
  window: string | undefined;
  match: ListMatch;
}

function strictestCategory(
  categories: string[],
  matches: ListMatch[],
  profile: Profile,
  windows: TimeWindow[],
): CategoryChoice {
  let best: CategoryChoice | undefined;
  for (const category of categories) {
    let action: Action = own(profile.categories, category) ?? 'allow';
    let window: string | undefined;
    for (const w of windows) {
      const windowAction = own(w.categories, category);
      if (windowAction === undefined) continue;
      // The first open window naming the category replaces the profile's action; later ones can only tighten it.
      if (window === undefined || ACTION_SEVERITY[windowAction] > ACTION_SEVERITY[action]) {
        action = windowAction;
        window = w.name;
      }
    }
    // matches come most specific host first, so this is the entry closest to the requested host.
    const match = matches.find((m) => m.list === category) as ListMatch;
    if (best === undefined || ACTION_SEVERITY[action] > ACTION_SEVERITY[best.action]) {
      best = { category, action, window, match };
    }
  }
  if (best === undefined) throw new Error('strictestCategory called without categories');
  return best;
}

const VERB: Record<Action, string> = { allow: 'Allowed', warn: 'Warning', block: 'Blocked' };

// Own properties only: a category called "constructor" must not pick up Object.prototype.
function own(record: Record<string, Action>, key: string): Action | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** `items` (a fresh array, which may be returned as it is) without repeats, sorted. */
function uniqueSorted(items: string[]): string[] {
  if (items.length < 2) return items; // most lookups: nothing or one list matched
  return [...new Set(items)].sort();
}

function describeTarget(target: Target, via: Via | undefined): string {
  const name = target.hostKind === 'ipv6' ? `[${target.host}]` : target.host;
  if (via === undefined) return name;
  const how = via.kind === 'translator' ? 'a translator' : 'an archive';
  return `${name} (reached via ${how}, ${via.service})`;
}
