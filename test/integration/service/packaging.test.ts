/**
 * packaging/: the systemd unit passes `systemd-analyze verify` (where the tool exists), its ExecStart line
 * starts `serve` from this built checkout on a loopback port with the example config, and the Dockerfile
 * builds (where a docker daemon answers). Skipped parts say why.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { assertBuilt, waitForExit, waitForOutput } from '../../helpers/cli.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { tempDir } from '../../helpers/schoolgate.js';

const ROOT = path.resolve('.');
const UNIT = path.join(ROOT, 'packaging', 'schoolgate.service');
const unit = readFileSync(UNIT, 'utf8');
const directives = unit
  .split('\n')
  .filter((l) => /^[A-Za-z]+=/.test(l))
  .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const);
const values = (key: string) => directives.filter(([k]) => k === key).map(([, v]) => v);

function available(command: string, args: string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

let child: ReturnType<typeof spawn> | undefined;
afterEach(async () => {
  if (child) {
    child.kill('SIGTERM');
    await waitForExit(child);
    child = undefined;
  }
});

describe('the systemd unit', () => {
  it('runs as its own user with a read-only system and no way to gain privileges', () => {
    expect(values('User')).toEqual(['schoolgate']);
    expect(values('ProtectSystem')).toEqual(['strict']);
    expect(values('NoNewPrivileges')).toEqual(['yes']);
    expect(values('ReadWritePaths')[0]!.split(' ')).toContain('/var/lib/schoolgate');
    expect(values('CapabilityBoundingSet')).toEqual(['']); // none: port 3128 needs no capability
    expect(values('AmbientCapabilities')).toEqual([]);
    expect(unit).toMatch(/^#CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m); // offered, commented, for ports < 1024
  });

  it.runIf(available('systemd-analyze', ['--version']))('passes systemd-analyze verify', () => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
  });
  if (!available('systemd-analyze', ['--version']))
    it.skip('systemd-analyze verify: skipped, systemd-analyze is not installed on this machine', () => {});

  it('its ExecStart line starts serve from a built checkout with the example config', async () => {
    assertBuilt();
    const dir = tempDir();
    const example = parse(
      readFileSync(path.join(ROOT, 'packaging', 'config.example.yaml'), 'utf8'),
    ) as Record<string, Record<string, unknown>>;
    // The example as installed, moved to this test's folders and a loopback port.
    const config = {
      ...example,
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: path.join(dir, 'lib'),
      tls: { ...example['tls'], certsDir: path.join(dir, 'lib', 'certs') },
      accessLog: { ...example['accessLog'], path: path.join(dir, 'access.log') },
    };
    const configFile = path.join(dir, 'config.yaml');
    writeFileSync(configFile, stringify(config));
    const env: Record<string, string> = { ...(process.env as Record<string, string>) };
    for (const e of values('Environment')) env[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
    env['SCHOOLGATE_CONFIG'] = configFile;
    const [command, ...args] = values('ExecStart')[0]!
      .split(/\s+/)
      .map((word) =>
        word
          .replace(/^\/usr\/bin\/node$/, process.execPath)
          .replace(/^\/opt\/schoolgate\//, `${ROOT}/`)
          .replace(/\$\{(\w+)\}/g, (_m, name: string) => env[name] ?? ''),
      );
    expect(args.slice(0, 2)).toEqual([path.join(ROOT, 'dist/src/cli/main.js'), 'serve']);
    child = spawn(command!, args, { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const serve = { child, output: () => output };
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const started = await waitForOutput(serve, /filtering on 127\.0\.0\.1:(\d+)/, 60_000);
    const port = Number(/filtering on 127\.0\.0\.1:(\d+)/.exec(started)![1]);
    const health = await viaProxy(port, `http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
  });
});

describe('the Dockerfile', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'packaging', 'Dockerfile'), 'utf8');

  it('is multi-stage, runs as a non-root user, and keeps its data in a volume', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER schoolgate$/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
  });

  const daemon = available('docker', ['info']);
  it.runIf(daemon)(
    'builds',
    () => {
      const r = spawnSync('docker', ['build', '-f', 'packaging/Dockerfile', '-t', 'schoolgate:test', '.'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 900_000,
      });
      expect(r.status, r.stderr.slice(-4000)).toBe(0);
    },
    900_000,
  );
  if (!daemon) it.skip('docker build: skipped, no docker daemon answers on this machine', () => {});
});
