/**
 * The category test sets shipped with the lists (issue 17 item 4): every `categories/<name>/tests` line is
 * checked against the shipped lists, loaded the way the proxy loads them (loadPolicy over the default
 * configuration), so an edit that over- or under-blocks fails CI. `categories/must-allow` names the
 * education and help sites that every shipped profile must allow. Format: categories/README.md.
 */
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/app/start.js';
import type { LoadedPolicy } from '../../../src/app/reload.js';
import { validateConfig } from '../../../src/config/load.js';
import { decide } from '../../../src/policy/decide.js';
import { parseAbsoluteTarget, parseConnectTarget } from '../../../src/policy/target.js';
import type { Target } from '../../../src/policy/types.js';
import { tempDir } from '../../helpers/schoolgate.js';

const NOW = new Date('2026-11-23T10:00:00Z'); // a Monday in school hours, outside the staff lunchtime window
const CATEGORIES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../categories');

type Verb = 'match' | 'miss' | 'allow';
interface Case {
  line: number;
  verb: Verb;
  url: string;
}

/**
 * One line: `<verb> <url>`, the verbs the file allows (`match`/`miss` in a category's tests, `allow` in
 * must-allow); `#` comments and blank lines are skipped. A URL without a scheme gets https://. Anything else
 * is a mistake in the test set and fails the run, never skipped.
 */
function parseTestsFile(file: string, verbs: readonly Verb[]): { cases: Case[]; errors: string[] } {
  const cases: Case[] = [];
  const errors: string[] = [];
  readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const text = raw.trim();
      if (text === '' || text.startsWith('#')) return;
      const [verb, url, ...rest] = text.split(/\s+/);
      if (!verbs.includes(verb as Verb) || url === undefined || rest.length > 0) {
        errors.push(`${file}:${i + 1}: expected "${verbs.join('|')} <url>": ${JSON.stringify(text)}`);
        return;
      }
      const absolute = /^https?:\/\//.test(url) ? url : `https://${url}`;
      try {
        parseAbsoluteTarget(absolute);
      } catch (err) {
        errors.push(`${file}:${i + 1}: ${(err as Error).message}`);
        return;
      }
      cases.push({ line: i + 1, verb: verb as Verb, url: absolute });
    });
  return { cases, errors };
}

/**
 * The requests a line stands for: the URL as an inspected GET and, when it names a bare host, also the
 * CONNECT a client sends when its HTTPS is not inspected (the host alone must then decide).
 */
function requestsOf(url: string): { target: Target; method: string }[] {
  const get = { target: parseAbsoluteTarget(url), method: 'GET' };
  if (!/^https?:\/\/[^/?#]+\/?$/.test(url)) return [get];
  return [get, { target: parseConnectTarget(`${get.target.host}:${get.target.port}`), method: 'CONNECT' }];
}

const categoryNames = readdirSync(CATEGORIES)
  .filter((n) => n !== 'keywords' && !n.startsWith('.') && statSync(path.join(CATEGORIES, n)).isDirectory())
  .sort();
const perCategory = categoryNames.map((name) => {
  const file = path.join(CATEGORIES, name, 'tests');
  let parsed: { cases: Case[]; errors: string[] };
  try {
    parsed = parseTestsFile(file, ['match', 'miss']);
  } catch (err) {
    parsed = { cases: [], errors: [`${file}: ${(err as Error).message}`] };
  }
  return { name, file, ...parsed };
});
const mustAllow = parseTestsFile(path.join(CATEGORIES, 'must-allow'), ['allow']);

let policy: LoadedPolicy;
const dir = tempDir('schoolgate-category-tests-');
beforeAll(async () => {
  policy = await loadPolicy(
    validateConfig({}, { baseDir: dir, overrides: { dataDir: path.join(dir, 'data') } }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('every shipped category has a test set', () => {
  it('loads the shipped lists without a warning', () => {
    expect(policy.warnings).toEqual([]);
    expect([...policy.lists.categories.keys()].sort()).toEqual(categoryNames);
  });

  it.each(perCategory)('$name: tests file is well formed, with lines that must match and must not', (c) => {
    expect(c.errors).toEqual([]);
    expect(c.cases.filter((x) => x.verb === 'match').length).toBeGreaterThanOrEqual(3);
    expect(c.cases.filter((x) => x.verb === 'miss').length).toBeGreaterThanOrEqual(2);
  });
});

describe.each(perCategory)('categories/$name/tests', ({ name, cases }) => {
  it.each(cases)('$verb $url (line $line)', ({ verb, url }) => {
    for (const { target, method } of requestsOf(url)) {
      const found = [...new Set(policy.lists.match(target).map((m) => m.list))].sort();
      if (verb === 'match') expect(found, `${method} ${url}`).toContain(name);
      else expect(found, `${method} ${url}`).not.toContain(name);
    }
  });
});

describe('categories/must-allow: every shipped profile allows the education and help sites', () => {
  it('is well formed, and every shipped profile is there to check it', () => {
    expect(mustAllow.errors).toEqual([]);
    expect(mustAllow.cases.length).toBeGreaterThanOrEqual(10);
    expect([...policy.profiles.keys()].sort()).toEqual([
      'guest',
      'leadership',
      'pupil',
      'staff',
      'technician',
    ]);
  });

  it.each(mustAllow.cases)('$url (line $line)', ({ url }) => {
    const refused: string[] = [];
    for (const [profileName, profile] of policy.profiles)
      for (const request of requestsOf(url)) {
        const d = decide(request, profile, policy.lists, NOW);
        if (d.action !== 'allow')
          refused.push(`${profileName} ${request.method}: ${d.action} (${d.categories.join(', ')})`);
      }
    expect(refused).toEqual([]);
  });
});
