/**
 * What a technician expects of a service (issue 14, item 5): `--version`, a config found without
 * `--config` (SCHOOLGATE_CONFIG here; /etc/schoolgate/config.yaml is covered by the unit table, never read
 * by a test), `serve` and `status` saying which file is in use, and `config show`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runCli, startServeProcess, waitForExit } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

function configFile(extra: Record<string, unknown> = {}): {
  dir: string;
  file: string;
  env: NodeJS.ProcessEnv;
} {
  const dir = tempDir();
  const file = path.join(dir, 'school.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: 'state',
      categoriesDir: path.relative(dir, writeFixtureCategories(path.join(dir, 'categories'))),
      profiles: FIXTURE_PROFILES,
      ...extra,
    }),
  );
  return { dir, file, env: { ...process.env, SCHOOLGATE_CONFIG: file } };
}

describe('schoolgate as a service', () => {
  it('--version prints the version in package.json', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag]);
      expect(r).toMatchObject({ code: 0, stdout: `${version}\n` });
    }
  });

  it('config show: the file named by SCHOOLGATE_CONFIG over the defaults, secrets redacted', async () => {
    const { dir, file, env } = configFile({
      alerts: { webhook: { url: 'https://hooks.example/services/T0?token=s3cr3t', secretEnv: 'HOOK_KEY' } },
    });
    const text = await runCli(['config', 'show'], { env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.split('\n')[0]).toBe(`# config: ${file} (SCHOOLGATE_CONFIG)`);
    expect(text.stdout).not.toContain('s3cr3t');
    const json = await runCli(['config', 'show', '--json'], { env });
    const shown = JSON.parse(json.stdout) as {
      dataDir: string;
      proxyName: string;
      alerts: { webhook: { url: string; secretEnv: string } };
      profiles: Record<string, unknown>;
    };
    expect(shown.dataDir).toBe(path.join(dir, 'state')); // relative to the file, as with --config
    expect(shown.proxyName).toBe('schoolgate.local'); // a default the file does not name
    expect(shown.alerts.webhook).toMatchObject({
      url: 'https://hooks.example/services/T0?token=redacted',
      secretEnv: 'HOOK_KEY',
    });
    expect(Object.keys(shown.profiles).sort()).toEqual(['guest', 'pupil', 'staff']);
    // --config still wins over the variable.
    const other = configFile({ proxyName: 'proxy.school.example' });
    const chosen = await runCli(['config', 'show', '--json', '--config', other.file], { env });
    expect((JSON.parse(chosen.stdout) as { proxyName: string }).proxyName).toBe('proxy.school.example');
  });

  it('a missing SCHOOLGATE_CONFIG file is an error naming it, not the defaults', async () => {
    const env = { ...process.env, SCHOOLGATE_CONFIG: path.join(tempDir(), 'missing.yaml') };
    const r = await runCli(['config', 'check'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`SG_CONFIG_UNREADABLE: cannot read config file ${env.SCHOOLGATE_CONFIG}`);
  });

  it('serve and status find the file without --config and say which it is', async () => {
    const { file, env } = configFile();
    const serve = await startServeProcess([], env);
    onTestFinished(async () => {
      serve.child.kill('SIGTERM');
      await waitForExit(serve.child);
    });
    expect(serve.output()).toContain(`config:     ${file} (SCHOOLGATE_CONFIG)`);
    // A first start is never silent: each slow step is named before the banner.
    const steps = serve
      .output()
      .split('\n')
      .filter((l) => l.startsWith('schoolgate: '));
    expect(steps).toHaveLength(5);
    expect(steps[0]).toMatch(/^schoolgate: starting version \d+\.\d+\.\d+ \(node v\d+/);
    expect(steps.slice(1).join('\n')).toMatch(
      /config: .*school\.yaml \(SCHOOLGATE_CONFIG\)\n.*loading the category lists .*\n.*loaded 4 categories \(\d+ entries\); reading the school CA in .*\n.*opening and checking the audit database .*audit\.sqlite$/,
    );
    expect(serve.output().indexOf('schoolgate: opening')).toBeLessThan(
      serve.output().indexOf('filtering on'),
    );
    const status = await runCli(['status'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(`^config +${file.replace(/[.]/g, '\\.')} \\(SCHOOLGATE_CONFIG\\)$`, 'm'),
    );
    const json = JSON.parse((await runCli(['status', '--json'], { env })).stdout) as {
      config: { file: string; source: string };
    };
    expect(json.config).toEqual({ file, source: 'env' });
  });
});
