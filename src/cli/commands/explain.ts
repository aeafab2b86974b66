/** `schoolgate explain`: what would happen to URL X for user or profile Y, and the rule that decides. */
import { createInterface } from 'node:readline';
import { type Command, Option } from 'commander';
import { loadPolicy } from '../../app/start.js';
import { SchoolgateError } from '../../errors.js';
import { UserStore } from '../../identity/user-store.js';
import { pilotWould } from '../../exchange/pilot.js';
import { decide } from '../../policy/decide.js';
import { ILLEGAL_LIST_PREFIX } from '../../policy/illegal-tier.js';
import { parseAbsoluteTarget } from '../../policy/target.js';
import { openWindows } from '../../policy/time.js';
import { ACTION_SEVERITY, type Action, type Decision, type Profile } from '../../policy/types.js';
import { layerKeys } from '../../lists/catalogue.js';
import { anyLineKey } from '../../lists/entry.js';
import { describeScope } from '../../policy/exceptions.js';
import type { StoredException } from '../../state/exceptions.js';
import { withState } from '../../state/store.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';

interface ExplainOptions extends CommonOptions {
  user?: string;
  profile?: string;
  json?: boolean;
  at?: string;
}

export function registerExplain(program: Command): void {
  withCommonOptions(program.command('explain'))
    .description('show the decision for each URL and the rule that made it')
    .argument('<url...>', 'URLs or host names; "-" reads them one a line from standard input')
    .addOption(new Option('--user <name>', 'decide as this user (their profile)').conflicts('profile'))
    .addOption(new Option('--profile <name>', 'decide with this profile'))
    .option('--json', 'one JSON object a line')
    .option('--at <time>', 'decide as at this time (ISO 8601), for time windows')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate explain https://www.youtube.com/ --profile pupil\n  cat urls.txt | schoolgate explain - --user j.smith --json',
    )
    .action(async (urls: string[], opts: ExplainOptions) => {
      const config = configFrom(opts);
      const profileName = resolveProfileName(config.dataDir, opts);
      const policy = await loadPolicy(config);
      const profile = policy.profiles.get(profileName);
      if (!profile)
        throw new SchoolgateError('SG_PROFILE_UNKNOWN', `no profile named "${profileName}"`, {
          suggestion: `use one of: ${[...policy.profiles.keys()].join(', ')}`,
        });
      const now = opts.at ? parseTime(opts.at) : new Date();
      let failures = 0;
      for await (const url of expandUrls(urls)) {
        let decision: Decision;
        try {
          const target = parseAbsoluteTarget(withScheme(url));
          decision = decide({ target, method: 'GET', user: opts.user ?? null }, profile, policy.lists, now);
        } catch (err) {
          failures++;
          const message = err instanceof Error ? err.message : String(err);
          if (opts.json) console.log(JSON.stringify({ url, error: message }));
          else console.log(`${url}\n  invalid: ${message}`);
          continue;
        }
        const detail = await matchDetails(decision, profile, now, {
          categoriesDir: config.categoriesDir,
          dataDir: config.dataDir,
        });
        const pilot = pilotLine(profile, decision);
        const exception =
          decision.exception && (await exceptionDetail(config.dataDir, decision.exception.id));
        console.log(
          opts.json
            ? JSON.stringify({
                ...explainJson(url, decision),
                matches: detail.matches,
                why: detail.why,
                ...pilot.json,
                exception: exception ?? null,
              })
            : explainText(url, decision, detail, exception, pilot.text),
        );
      }
      if (failures > 0) process.exitCode = 1;
    });
}

function resolveProfileName(dataDir: string, opts: ExplainOptions): string {
  if (opts.profile) return opts.profile;
  if (!opts.user)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', 'explain needs --user NAME or --profile NAME', {
      suggestion: 'e.g. schoolgate explain https://example.com/ --profile pupil',
    });
  const users = new UserStore(dataDir);
  try {
    const user = users.get(opts.user);
    if (!user)
      throw new SchoolgateError('SG_USER_UNKNOWN', `no user named "${opts.user}"`, {
        suggestion: 'list users with `schoolgate users list`, or use --profile',
      });
    return user.profile;
  } finally {
    users.close();
  }
}

/** The stored exception that decided: who added it, when, why and until when. */
async function exceptionDetail(dataDir: string, id: number): Promise<StoredException | undefined> {
  return withState(dataDir, (state) => state.exceptions.get(id));
}

function parseTime(value: string): Date {
  const time = new Date(value);
  if (Number.isNaN(time.getTime()))
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `--at: "${value}" is not a date and time`, {
      suggestion: 'use ISO 8601, e.g. 2026-11-23T12:30:00Z',
    });
  return time;
}

function withScheme(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
}

async function* expandUrls(urls: string[]): AsyncGenerator<string> {
  for (const url of urls) {
    if (url !== '-') {
      yield url;
      continue;
    }
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      const trimmed = line.trim();
      if (trimmed && !trimmed.startsWith('#')) yield trimmed;
    }
  }
}

export function explainJson(url: string, d: Decision) {
  return {
    url,
    action: d.action,
    categories: d.categories,
    profile: d.profile,
    rule: { kind: d.rule.kind, list: d.rule.list, entry: d.rule.entry },
    flagged: d.flagged,
    alert: d.alert,
    explanation: d.explanation,
    matches: d.matches,
  };
}

interface MatchDetail {
  list: string;
  entry: string;
  kind: string;
  /** For a category: its action for this profile now (time windows applied). */
  action: Action | null;
  /** Where the entry comes from: the shipped or local list layer, or the profile's own entries. */
  layer: 'shipped' | 'local' | 'profile' | 'illegal-tier';
}

/** Every matched entry with its action and layer, and one sentence on why the winner won. */
async function matchDetails(
  d: Decision,
  profile: Profile,
  now: Date,
  dirs: { categoriesDir: string; dataDir: string },
): Promise<{ matches: MatchDetail[]; why: string }> {
  const windows = openWindows(profile, now);
  const localKeys = new Map<string, Set<string>>();
  const matches: MatchDetail[] = [];
  for (const m of d.matches) {
    if (m.list.startsWith(ILLEGAL_LIST_PREFIX)) {
      matches.push({ ...m, action: 'block', layer: 'illegal-tier' });
      continue;
    }
    if (m.list.startsWith('profile:')) {
      matches.push({ ...m, action: m.list.endsWith(':deny') ? 'block' : 'allow', layer: 'profile' });
      continue;
    }
    if (!localKeys.has(m.list)) localKeys.set(m.list, await layerKeys(dirs, m.list, 'local'));
    const key = anyLineKey(m.entry);
    matches.push({
      ...m,
      action: categoryAction(profile, windows, m.list),
      layer: key !== undefined && localKeys.get(m.list)!.has(key) ? 'local' : 'shipped',
    });
  }
  return { matches, why: whyWinner(d, matches) };
}

// Mirrors strictestCategory() in src/policy/decide.ts for one category (display only; decide() decides).
function categoryAction(profile: Profile, windows: ReturnType<typeof openWindows>, category: string): Action {
  let action: Action = Object.hasOwn(profile.categories, category) ? profile.categories[category]! : 'allow';
  let inWindow = false;
  for (const w of windows) {
    if (!Object.hasOwn(w.categories, category)) continue;
    const a = w.categories[category]!;
    if (!inWindow || ACTION_SEVERITY[a] > ACTION_SEVERITY[action]) action = a;
    inWindow = true;
  }
  return action;
}

function whyWinner(d: Decision, matches: MatchDetail[]): string {
  const others = matches.filter(
    (m) => m.layer !== 'profile' && m.layer !== 'illegal-tier' && m.list !== d.rule.category,
  );
  const reading = d.lookalike === undefined ? '' : ` (on the name it looks like, ${d.lookalike})`;
  switch (d.rule.kind) {
    case 'exception-allow':
    case 'exception-block': {
      const e = d.exception;
      const scope = e ? describeScope(e.scope) : '?';
      return `exception ${e?.id ?? '?'} for ${scope} comes before profile entries, time windows and categories (most specific scope wins: user > profile > everyone; then block over allow)`;
    }
    case 'profile-deny':
      return `the profile's deny entry ${d.rule.entry}${reading} comes before allow entries and every category`;
    case 'profile-allow':
      return `the profile's allow entry ${d.rule.entry} comes before every category (only a deny entry beats it)`;
    case 'category':
    case 'time-window': {
      const during = d.rule.kind === 'time-window' ? ` (time window ${d.rule.list} is open)` : '';
      const beaten = [...new Set(others.map((m) => `${m.list} (${m.action})`))];
      return `category ${d.rule.category}${reading} sets ${d.action}${during}; the most restrictive matched category wins (block > warn > allow)${beaten.length ? `, over ${beaten.join(', ')}` : ''}`;
    }
    case 'ip-literal':
      return "a bare IP address in no list gets the profile's ipLiterals action";
    case 'mixed-script-host':
      return 'a name mixing alphabets in one label, on no list, is blocked (only an allow entry for that very name lets it through)';
    case 'default':
      return "no entry matched, so the profile's default action applies";
    case 'illegal-tier':
      return `the illegal-content tier (${d.rule.list}) comes before every profile, exception, time window, Continue and pilot mode; nothing can allow it`;
    default:
      return d.explanation;
  }
}

/**
 * The profile's mode (pilot mode lets a block or warn through, recorded as would-block / would-warn) and
 * what it does with uncategorised sites (its default), so a school trialling the filter reads both here.
 */
function pilotLine(profile: Profile, d: Decision): { text: string[]; json: Record<string, unknown> } {
  const mode = profile.mode ?? 'enforce';
  const would = pilotWould(profile, d);
  const uncategorised = `uncategorised: ${profile.defaultAction} (the profile's default)`;
  const text = [
    `  mode:       ${mode}${would ? ` (pilot): enforce would ${would.toUpperCase()}; let through, recorded as would-${would}` : mode === 'monitor' ? ' (pilot): enforced as decided' : ''}`,
    `  ${uncategorised}`,
  ];
  return {
    text,
    json: { mode, would: would ?? null, uncategorised: profile.defaultAction },
  };
}

function explainText(
  url: string,
  d: Decision,
  detail: { matches: MatchDetail[]; why: string },
  exception: StoredException | undefined,
  pilot: string[] = [],
): string {
  const lines = [
    `${url}`,
    `  ${d.action.toUpperCase()} for profile ${d.profile}`,
    ...pilot,
    `  why:        ${d.explanation}`,
    `  rule:       ${d.rule.kind}${d.rule.list ? ` (list ${d.rule.list}` : ''}${d.rule.entry ? `, entry ${d.rule.entry})` : d.rule.list ? ')' : ''}`,
    `  categories: ${d.categories.length ? d.categories.join(', ') : '(none)'}`,
    `  flagged:    ${d.flagged ? 'yes' : 'no'}`,
    `  winner:     ${detail.why}`,
  ];
  if (exception)
    lines.push(
      `  exception:  ${exception.id}: ${exception.action} ${exception.site} for ${describeScope(exception.scope)}, ends ${exception.expiresAt ?? 'never (no end date)'}`,
      `              added by ${exception.createdBy} at ${exception.createdAt}: ${exception.reason}`,
    );
  if (detail.matches.length > 0) {
    lines.push('  matched entries:');
    for (const m of detail.matches)
      lines.push(
        `    ${m.list.padEnd(14)} ${(m.action ?? '').padEnd(5)} ${m.layer.padEnd(7)} ${m.entry} (${m.kind})`,
      );
  }
  return lines.join('\n');
}
