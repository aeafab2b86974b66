/** `schoolgate explain`: what would happen to URL X for user or profile Y, and the rule that decides. */
import { createInterface } from 'node:readline';
import { type Command, Option } from 'commander';
import { loadPolicy } from '../../app/start.js';
import { SchoolgateError } from '../../errors.js';
import { UserStore } from '../../identity/user-store.js';
import { decide } from '../../policy/decide.js';
import { parseAbsoluteTarget } from '../../policy/target.js';
import type { Decision } from '../../policy/types.js';
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
          decision = decide({ target, method: 'GET' }, profile, policy.lists, now);
        } catch (err) {
          failures++;
          const message = err instanceof Error ? err.message : String(err);
          if (opts.json) console.log(JSON.stringify({ url, error: message }));
          else console.log(`${url}\n  invalid: ${message}`);
          continue;
        }
        console.log(opts.json ? JSON.stringify(explainJson(url, decision)) : explainText(url, decision));
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

function explainText(url: string, d: Decision): string {
  const lines = [
    `${url}`,
    `  ${d.action.toUpperCase()} for profile ${d.profile}`,
    `  why:        ${d.explanation}`,
    `  rule:       ${d.rule.kind}${d.rule.list ? ` (list ${d.rule.list}` : ''}${d.rule.entry ? `, entry ${d.rule.entry})` : d.rule.list ? ')' : ''}`,
    `  categories: ${d.categories.length ? d.categories.join(', ') : '(none)'}`,
    `  flagged:    ${d.flagged ? 'yes' : 'no'}`,
  ];
  if (d.matches.length > 0) {
    lines.push('  matched entries:');
    for (const m of d.matches) lines.push(`    ${m.list.padEnd(14)} ${m.entry} (${m.kind})`);
  }
  return lines.join('\n');
}
