/** Starts a real schoolgate (real server, real SQLite) in this process, on an ephemeral loopback port. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startSchoolgate, type RunningSchoolgate } from '../../src/app/start.js';
import { validateConfig, type ReadonlyConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { UserStore } from '../../src/identity/user-store.js';

/** A small, known category set: tests must not depend on the curated shipped lists. */
export const FIXTURE_CATEGORIES: Record<
  string,
  { title: string; flagged: boolean; domains: string[]; urls?: string[] }
> = {
  social: { title: 'Social networking', flagged: false, domains: ['facebook.com', 'social.test'] },
  streaming: {
    title: 'Audio and video streaming',
    flagged: false,
    domains: ['www.youtube.com', 'video.test'],
    urls: ['allowed.test/videos'],
  },
  adult: { title: 'Adult content', flagged: true, domains: ['blocked.example', 'xn--bcher-kva.example'] },
  gambling: { title: 'Gambling', flagged: true, domains: ['bet.test'] },
};

export function writeFixtureCategories(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const meta: string[] = [];
  for (const [name, c] of Object.entries(FIXTURE_CATEGORIES)) {
    mkdirSync(path.join(dir, name), { recursive: true });
    writeFileSync(path.join(dir, name, 'domains'), `# fixture\n${c.domains.join('\n')}\n`);
    if (c.urls) writeFileSync(path.join(dir, name, 'urls'), `${c.urls.join('\n')}\n`);
    meta.push(
      `${name}:\n  title: ${c.title}\n  description: fixture\n  flagged: ${c.flagged}\n  alert: false`,
    );
  }
  writeFileSync(path.join(dir, 'categories.yaml'), `${meta.join('\n')}\n`);
  return dir;
}

/**
 * Profiles over the fixture categories: pupils blocked, staff warned. `replace: true`: the shipped profiles
 * name categories the fixture set does not have, and tests must not depend on them.
 */
export const FIXTURE_PROFILES = {
  replace: true,
  pupil: { categories: { social: 'block', streaming: 'block', adult: 'block', gambling: 'block' } },
  staff: { categories: { social: 'warn', streaming: 'warn', adult: 'block', gambling: 'block' } },
  guest: { categories: { social: 'block', streaming: 'block', adult: 'block', gambling: 'block' } },
} satisfies ConfigInput['profiles'];

/** Names the tests route to the loopback origin (a deliberate route, like Squid's hosts_file). */
export const ROUTED_NAMES = [
  'social.test',
  'allowed.test',
  'www.facebook.com',
  'facebook.com',
  'www.youtube.com',
  'blocked.example',
  'notblocked.example',
  'a.b.blocked.example',
];

export function tempDir(prefix = 'schoolgate-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Files for a `schoolgate serve` child process on loopback: a config, the fixture lists, a data folder. */
export function serveFiles(): { dir: string; data: string; args: string[] } {
  const dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  writeFileSync(
    path.join(dir, 'config.yaml'),
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      profiles: FIXTURE_PROFILES,
      console: { enabled: false },
    }),
  );
  const data = path.join(dir, 'data');
  return {
    dir,
    data,
    args: ['--config', path.join(dir, 'config.yaml'), '--data', data, '--categories', categories],
  };
}

export function testConfig(input: Partial<ConfigInput> = {}, dir = tempDir()): ReadonlyConfig {
  const categoriesDir = writeFixtureCategories(path.join(dir, 'categories'));
  const hosts = Object.fromEntries(ROUTED_NAMES.map((n) => [n, '127.0.0.1']));
  return validateConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      profiles: FIXTURE_PROFILES,
      // The web console listens on a fixed port by default: tests that want it turn it on with port 0.
      console: { enabled: false },
      ...input,
      hosts: { ...hosts, ...input.hosts },
      httpPorts: input.httpPorts ?? [80, 8080],
    },
    { baseDir: dir, overrides: { dataDir: path.join(dir, 'data'), categoriesDir } },
  );
}

export async function startTestProxy(
  config: ReadonlyConfig,
  opts: { now?: () => Date } = {},
): Promise<RunningSchoolgate> {
  return startSchoolgate(config, pino({ level: 'silent' }), opts);
}

/** A proxy that requires Basic credentials, with these users (name → password) in its state database. */
export async function startAuthProxy(
  originPort: number,
  users: Record<string, { profile: string; password: string }>,
): Promise<RunningSchoolgate> {
  const config = testConfig({ httpPorts: [originPort], identity: { basicAuth: true, requireAuth: true } });
  const store = new UserStore(config.dataDir);
  for (const [name, u] of Object.entries(users)) await store.add({ name, ...u });
  store.close();
  return startTestProxy(config);
}
