/**
 * Profiles a technician can change from the CLI, and categories a profile enforces: a new or imported
 * category is enforced by no profile until one blocks it (`--block-for`, `profiles set`), and the commands
 * say so. The shipped categories and the shipped profiles (no config file): a fresh install.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/schoolgate.js';

let dir: string;
let common: string[];
let vpnDir: string;

beforeAll(() => {
  dir = tempDir();
  common = ['--data', path.join(dir, 'data')];
  vpnDir = path.join(dir, 'ut1', 'vpn');
  mkdirSync(vpnDir, { recursive: true });
  writeFileSync(path.join(vpnDir, 'domains'), 'vpn-one.example\nvpn-two.example\n');
});

const cli = (...args: string[]) => runCli([...args, ...common]);

async function explainAction(url: string, profile: string): Promise<string> {
  const r = await cli('explain', '--at', '2026-11-10T09:00:00Z', url, '--profile', profile, '--json');
  expect(r.stderr).toBe('');
  return (JSON.parse(r.stdout) as { action: string }).action;
}

describe('a category created or imported', { timeout: 120_000 }, () => {
  it('without --block-for (not a terminal): imported, a warning that no profile enforces it, ALLOW, UNENFORCED', async () => {
    const r = await cli('lists', 'import', 'vpn', vpnDir, '--format', 'squidguard', '--create');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: no profile enforces category vpn: every profile allows it');
    expect(r.stderr).toContain('schoolgate profiles set <profile> vpn block');
    expect(await explainAction('https://vpn-one.example/', 'pupil')).toBe('allow');
    const cats = await cli('lists', 'categories');
    expect(cats.stdout).toMatch(/^vpn .*UNENFORCED/m);
    expect(cats.stdout).toMatch(/UNENFORCED: no profile blocks or warns on vpn;/);
    expect(cats.stdout).not.toMatch(/^health .*UNENFORCED/m);
    const json = JSON.parse((await cli('lists', 'categories', '--json')).stdout) as {
      name: string;
      enforcedBy: string[];
    }[];
    expect(json.find((c) => c.name === 'vpn')).toMatchObject({ enforcedBy: [], unenforced: true });
    expect(json.find((c) => c.name === 'health')).toMatchObject({ enforcedBy: [], unenforced: false });
    expect(json.find((c) => c.name === 'adult')!.enforcedBy).toEqual(
      expect.arrayContaining(['pupil', 'guest', 'staff']),
    );
  });

  it('with --block-for pupil,guest: BLOCK for those profiles only, recorded, shown as local by profiles show', async () => {
    const r = await cli(
      'lists',
      'import',
      'vpn2',
      vpnDir,
      '--format',
      'squidguard',
      '--create',
      '--block-for',
      'pupil,guest',
      '--reason',
      'VPNs bypass the filter',
      '--by',
      'IT',
    );
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('no profile enforces');
    expect(r.stdout).toContain('blocked vpn2 for pupil, guest (local)');
    expect(await explainAction('https://vpn-two.example/', 'pupil')).toBe('block');
    expect(await explainAction('https://vpn-two.example/', 'guest')).toBe('block');
    expect(await explainAction('https://vpn-two.example/', 'staff')).toBe('allow');
    const show = JSON.parse((await cli('profiles', 'show', 'pupil', '--json')).stdout) as {
      categories: Record<string, { action: string; from: string }>;
      settings: Record<string, { value: unknown; from: string }>;
    };
    expect(show.categories.vpn2).toEqual({ action: 'block', from: 'local' });
    expect(show.categories.adult).toEqual({ action: 'block', from: 'shipped' });
    expect(show.settings.inspect).toEqual({ value: true, from: 'shipped' });
    const changes = await cli('changes', '--json');
    expect(changes.stdout).toContain('profile pupil category vpn2');
    expect(changes.stdout).toContain('VPNs bypass the filter');
    const cats = JSON.parse((await cli('lists', 'categories', '--json')).stdout) as {
      name: string;
      enforcedBy: string[];
    }[];
    expect(cats.find((c) => c.name === 'vpn2')!.enforcedBy).toEqual(['pupil', 'guest']);
  });

  it('lists new --block-for: an unknown profile creates nothing', async () => {
    const r = await cli('lists', 'new', 'exam-cheats', '--title', 'Exam cheating', '--block-for', 'pupils');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SG_PROFILE_UNKNOWN: no profile named "pupils"');
    const cats = JSON.parse((await cli('lists', 'categories', '--json')).stdout) as { name: string }[];
    expect(cats.map((c) => c.name)).not.toContain('exam-cheats');
    const ok = await cli('lists', 'new', 'exam-cheats', '--title', 'Exam cheating', '--block-for', 'pupil');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('blocked exam-cheats for pupil (local)');
  });
});

/**
 * Runs a command on a terminal (util-linux `script` gives it a pty) and answers the first question it asks
 * once the question is on screen: event-driven, no delays.
 */
function onTerminal(
  args: string[],
  question: string,
  answer: string,
): Promise<{ code: number | null; out: string }> {
  const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let answered = false;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (!answered && out.includes(question)) {
        answered = true;
        child.stdin.write(`${answer}\r`);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, out });
    });
  });
}

describe('on a terminal without --block-for', { timeout: 120_000 }, () => {
  it.skipIf(!existsSync('/usr/bin/script'))(
    'lists new asks which profiles block the new category',
    async () => {
      const r = await onTerminal(
        ['lists', 'new', 'quiz', '--title', 'Quiz answers', ...common],
        'Which profiles should block quiz?',
        'pupil,guest',
      );
      expect(r.code).toBe(0);
      expect(r.out).toContain('blocked quiz for pupil, guest (local)');
      const cats = JSON.parse((await cli('lists', 'categories', '--json')).stdout) as {
        name: string;
        enforcedBy: string[];
      }[];
      expect(cats.find((c) => c.name === 'quiz')!.enforcedBy).toEqual(['pupil', 'guest']);
    },
  );
});

describe('profiles set / show', { timeout: 120_000 }, () => {
  it('sets, overrides and clears a profile’s action for a category; show names the layer', async () => {
    expect(await explainAction('https://www.facebook.com/', 'staff')).toBe('warn');
    const set = await cli('profiles', 'set', 'staff', 'social', 'block', '--reason', 'exam week');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('profile staff: social warn (shipped) -> block (local)');
    expect(await explainAction('https://www.facebook.com/', 'staff')).toBe('block');
    const text = await cli('profiles', 'show', 'staff');
    expect(text.stdout).toMatch(/^ {4}social +block +local$/m);
    expect(text.stdout).toMatch(/^ {4}streaming +warn +shipped$/m);
    const clear = await cli('profiles', 'set', 'staff', 'social', 'clear');
    expect(clear.stdout).toContain('profile staff: social block (local) -> warn');
    expect(await explainAction('https://www.facebook.com/', 'staff')).toBe('warn');
  });

  it('refuses an unknown profile or category, naming them', async () => {
    const p = await cli('profiles', 'set', 'wizards', 'social', 'block');
    expect(p.code).toBe(1);
    expect(p.stderr).toContain('SG_PROFILE_UNKNOWN: no profile named "wizards"');
    const c = await cli('profiles', 'set', 'pupil', 'knitting', 'block');
    expect(c.code).toBe(1);
    expect(c.stderr).toContain('SG_CATEGORY_UNKNOWN: no category named "knitting"');
    const a = await cli('profiles', 'set', 'pupil', 'social', 'deny');
    expect(a.code).toBe(1);
  });

  it('shows every profile, and the config file’s layer as config', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(
      file,
      'profiles:\n  pupil:\n    categories: { social: warn }\n    allow: [www.bbc.co.uk]\n',
    );
    const all = JSON.parse((await cli('profiles', 'show', '--json', '--config', file)).stdout) as {
      name: string;
      categories: Record<string, { action: string; from: string }>;
      settings: Record<string, { value: unknown; from: string }>;
    }[];
    expect(all.map((p) => p.name)).toEqual(['pupil', 'staff', 'leadership', 'technician', 'guest']);
    const pupil = all[0]!;
    expect(pupil.categories.social).toEqual({ action: 'warn', from: 'config' });
    expect(pupil.categories.chat).toEqual({ action: 'block', from: 'shipped' });
    expect(pupil.settings.allow).toEqual({ value: ['www.bbc.co.uk'], from: 'config' });
  });
});
