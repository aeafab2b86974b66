/**
 * A running `schoolgate serve` picks up list and network changes without dropping a connection: one
 * keep-alive client socket stays open across `lists add` and is used again afterwards. A broken file
 * leaves the old lists serving and `reload` says what is wrong. `status` answers from the running proxy.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useServeAndOrigin } from '../../helpers/serve-and-origin.js';
import { runCli, startServeProcess, waitForOutput } from '../../helpers/cli.js';
import { FIXTURE_PROFILES, ROUTED_NAMES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

const t = useServeAndOrigin();

const KEEP_ALIVE_MS = 600_000;

function setUp(): { dir: string; args: string[] } {
  const dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    httpPorts: [t.origin.port],
    // Longer than any CLI run on a busy machine: the tests prove a kept connection survives a reload,
    // which must not depend on how fast a CLI process starts.
    limits: { keepAliveTimeoutMs: KEEP_ALIVE_MS },
    profiles: { ...FIXTURE_PROFILES, open: {} },
  };
  writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify(config));
  writeFileSync(path.join(dir, 'hosts'), ROUTED_NAMES.map((n) => `127.0.0.1 ${n}`).join('\n'));
  const args = [
    '--config',
    path.join(dir, 'config.yaml'),
    '--data',
    path.join(dir, 'data'),
    '--categories',
    categories,
  ];
  return { dir, args: [...args] };
}

/** Deterministic bytes that look random (a fixed-seed xorshift): the "garbage list" of the defect report. */
function noise(length: number, seed = 0x2545f491): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Ten social entries, two of them routed to the test origin (www.facebook.com, social.test). */
const SOCIAL_TEN = [
  'facebook.com',
  'social.test',
  ...Array.from({ length: 8 }, (_, i) => `social${i}.example`),
];

interface StatusJson {
  lists: { categories: number; entries: number };
  identity?: unknown;
  reloads: {
    count: number;
    failures: number;
    last: { ok: boolean; code: string | null; forced: boolean; message: string } | null;
  };
}

/**
 * A client with one keep-alive connection to the proxy (an agent with a single socket), which notes every
 * socket it was given, so a test can prove the connection survived.
 */
class KeepAliveClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  readonly sockets = new Set<Socket>();
  constructor(private readonly port: number) {}
  get(url: string): Promise<{ status: number; body: string; reused: boolean }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          path: url,
          agent: this.agent,
          headers: { host: new URL(url).host },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
        },
      );
      req.on('socket', (s: Socket) => this.sockets.add(s));
      req.on('error', reject);
      req.end();
    });
  }
  close(): void {
    this.agent.destroy();
  }
}

describe('reload of a running proxy', { timeout: 90_000 }, () => {
  it('`lists add` blocks a site at once, on a keep-alive connection that stays open', async () => {
    const { dir, args } = setUp();
    t.serve = await startServeProcess([...args, '--hosts-file', path.join(dir, 'hosts')]);
    const client = new KeepAliveClient(t.serve.port);
    const url = `http://notblocked.example:${t.origin.port}/page`;
    expect((await client.get(url)).status).toBe(200);

    // No timing assertions: the next request on the same connection must see the new list.
    const add = await runCli(['lists', 'add', 'social', 'notblocked.example', '--json', ...args]);
    expect(add.stderr).toBe('');
    const out = JSON.parse(add.stdout) as { reloaded: boolean; reload: { ms: number } };
    expect(out.reloaded).toBe(true);

    const after = await client.get(url);
    expect(after.status).toBe(403);
    expect(after.reused).toBe(true);
    // Other sites on the same connection still pass; the client only ever had one socket.
    const other = await client.get(`http://allowed.test:${t.origin.port}/`);
    expect(other).toMatchObject({ status: 200, reused: true });
    expect(client.sockets.size).toBe(1);
    client.close();
  });

  it('a broken local file leaves the old lists serving and says what is wrong; status answers', async () => {
    const { dir, args } = setUp();
    t.serve = await startServeProcess([...args, '--hosts-file', path.join(dir, 'hosts')]);
    const data = path.join(dir, 'data');
    expect(statSync(path.join(data, 'control.sock')).mode & 0o777).toBe(0o600);
    await runCli(['lists', 'add', 'social', 'first.example', ...args]);

    mkdirSync(path.join(data, 'categories.local'), { recursive: true });
    writeFileSync(
      path.join(data, 'categories.local/categories.yaml'),
      'homework:\n  title: Homework\n  flaged: true\n',
    );
    const reload = await runCli(['reload', ...args]);
    expect(reload.code).toBe(1);
    expect(reload.stderr).toMatch(
      /SG_RELOAD_FAILED: reload failed, the old lists keep serving: .*categories\.yaml:3: category homework: unknown field "flaged"/,
    );

    const client = new KeepAliveClient(t.serve.port);
    expect((await client.get(`http://first.example:${t.origin.port}/`)).status).toBe(403); // old lists still there
    expect((await client.get(`http://allowed.test:${t.origin.port}/`)).status).toBe(200);
    client.close();

    const status = await runCli(['status', '--json', ...args]);
    const s = JSON.parse(status.stdout) as Record<string, unknown> & {
      lists: { categories: number };
      reloads: { count: number; failures: number; lastError: string };
      databaseBytes: { audit: number };
    };
    expect(s).toMatchObject({
      running: true,
      listen: `127.0.0.1:${t.serve.port}`,
      auditQueueDepth: expect.any(Number),
    });
    expect(s.lists.categories).toBe(4);
    expect(s.reloads).toMatchObject({ count: 1, failures: 1 });
    expect(s.reloads.lastError).toContain('flaged');
    expect(s.requests).toBeGreaterThanOrEqual(2);
    expect(s.databaseBytes.audit).toBeGreaterThan(0);
    const text = await runCli(['status', ...args]);
    expect(text.stdout).toMatch(/^running +yes \(pid \d+\)/m);

    writeFileSync(
      path.join(data, 'categories.local/categories.yaml'),
      'homework:\n  title: Homework\n  flagged: true\n',
    );
    const fixed = await runCli(['reload', ...args]);
    expect(fixed.stdout).toMatch(/reloaded in \d+ ms: 5 categories/);
  });

  it('a list file replaced by random bytes is refused: reload exits 1, the old lists keep blocking', async () => {
    const { dir, args } = setUp();
    const socialFile = path.join(dir, 'categories/social/domains');
    writeFileSync(socialFile, `${SOCIAL_TEN.join('\n')}\n`);
    t.serve = await startServeProcess([...args, '--hosts-file', path.join(dir, 'hosts')]);
    const before = JSON.parse((await runCli(['status', '--json', ...args])).stdout) as StatusJson;

    writeFileSync(socialFile, noise(4096));
    const reload = await runCli(['reload', ...args]);
    expect(reload.code).toBe(1);
    expect(reload.stdout).toBe('');
    expect(reload.stderr).toMatch(
      /^error SG_RELOAD_FAILED: reload failed, the old lists keep serving: \S+categories\/social\/domains:\d+: (not UTF-8 text \(byte 0x[0-9a-f]{2}\)|binary data, .*: not a text list)\n {2}what to do: A list file must be UTF-8 text/,
    );

    // The running policy is the old one: the proxy still refuses both routed social hosts.
    const client = new KeepAliveClient(t.serve.port);
    expect((await client.get(`http://www.facebook.com:${t.origin.port}/`)).status).toBe(403);
    expect((await client.get(`http://social.test:${t.origin.port}/`)).status).toBe(403);
    expect((await client.get(`http://allowed.test:${t.origin.port}/`)).status).toBe(200);
    client.close();

    const after = JSON.parse((await runCli(['status', '--json', ...args])).stdout) as StatusJson;
    expect(after.lists).toEqual(before.lists);
    expect(after.reloads).toMatchObject({
      count: 0,
      failures: 1,
      last: { ok: false, code: 'SG_LIST_FILE_INVALID', forced: false },
    });
    expect(after.reloads.last?.message).toContain('categories/social/domains:');
    expect((await runCli(['status', ...args])).stdout).toMatch(
      /^last reload +REFUSED SG_LIST_FILE_INVALID at \S+: \S+social\/domains:\d+/m,
    );
    await waitForOutput(t.serve, /reload refused, the old lists keep serving: .*social\/domains:\d+/);
  });

  it('a category that would shrink by more than lists.maxShrinkShare needs --force', async () => {
    const { dir, args } = setUp();
    const socialFile = path.join(dir, 'categories/social/domains');
    writeFileSync(socialFile, `${SOCIAL_TEN.join('\n')}\n`);
    t.serve = await startServeProcess([...args, '--hosts-file', path.join(dir, 'hosts')]);
    const client = new KeepAliveClient(t.serve.port);
    const url = `http://social.test:${t.origin.port}/`;
    expect((await client.get(url)).status).toBe(403);

    // A clean file, three entries shorter (30%): social.test is one of them.
    writeFileSync(
      socialFile,
      `${SOCIAL_TEN.filter((d) => d !== 'social.test')
        .slice(0, 7)
        .join('\n')}\n`,
    );
    const refused = await runCli(['reload', ...args]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /SG_RELOAD_FAILED: reload failed, the old lists keep serving: category social would shrink from 10 to 7 shipped entries \(-30%\): more than lists\.maxShrinkShare 20%\n.*schoolgate reload --force/,
    );
    expect((await client.get(url)).status).toBe(403);
    const status = JSON.parse((await runCli(['status', '--json', ...args])).stdout) as StatusJson;
    expect(status.reloads.last).toMatchObject({ ok: false, code: 'SG_CATEGORY_SHRANK' });

    const forced = await runCli(['reload', '--force', '--reason', 'list cleaned upstream', ...args]);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/^reloaded in \d+ ms: 4 categories/);
    expect(forced.stdout).toContain('forced: category social shrank from 10 to 7 shipped entries');
    expect((await client.get(url)).status).toBe(200);
    client.close();
    const after = JSON.parse((await runCli(['status', '--json', ...args])).stdout) as StatusJson;
    expect(after.reloads.last).toMatchObject({ ok: true, code: null, forced: true });
    const changes = JSON.parse((await runCli(['changes', '--json', ...args])).stdout) as unknown[];
    expect(changes).toMatchObject([
      {
        action: 'lists.reload.forced',
        target: 'social',
        after: { shrank: [{ category: 'social', before: 10, after: 7 }] },
        reason: 'list cleaned upstream',
      },
    ]);
    await waitForOutput(t.serve, /reload forced past the shrink check: category social would shrink/);

    // Local-layer edits are deliberate and recorded: un-listing shipped entries is not a shrink.
    const removed = await runCli(['lists', 'remove', 'social', 'facebook.com', 'social0.example', ...args]);
    expect(removed.stdout).toContain('running proxy reloaded');
  });

  it('a list file with NUL bytes stops serve from starting, with the SG code, file and line', async () => {
    const { dir, args } = setUp();
    const socialFile = path.join(dir, 'categories/social/domains');
    writeFileSync(socialFile, 'facebook.com\nsocial.test\0\0\0\0\n');
    const r = await runCli(['serve', ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error SG_LIST_FILE_INVALID: ${socialFile}:2: binary data, a NUL byte (0x00): not a text list\n` +
        '  what to do: A list file must be UTF-8 text, one entry a line. Replace it with a good copy (a download ' +
        'may have saved an archive, an error page in another encoding, or been cut short), or convert it to UTF-8.\n',
    );
    expect(r.stdout).not.toContain('filtering on');
  });

  it('status, reload and selftest without a running proxy say so', async () => {
    const { args } = setUp();
    for (const cmd of ['status', 'reload', 'selftest']) {
      const r = await runCli([cmd, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/SG_NOT_RUNNING: no running proxy answers on .*control\.sock/);
    }
  });

  it('a network added from the CLI changes the profile of its clients after the automatic reload', async () => {
    const { dir, args } = setUp();
    t.serve = await startServeProcess([...args, '--hosts-file', path.join(dir, 'hosts')]);
    const client = new KeepAliveClient(t.serve.port);
    const url = `http://www.facebook.com:${t.origin.port}/`;
    expect((await client.get(url)).status).toBe(403); // guest: social blocked
    const add = await runCli([
      'networks',
      'add',
      '127.0.0.0/8',
      '--profile',
      'open',
      '--name',
      'loopback',
      ...args,
    ]);
    expect(add.stdout).toContain('running proxy reloaded');
    expect(await client.get(url)).toMatchObject({ status: 200, reused: true });
    await runCli(['networks', 'remove', '127.0.0.0/8', ...args]);
    expect(await client.get(url)).toMatchObject({ status: 403, reused: true });
    client.close();
  });

  it('`profiles set` changes what a profile does with a category in the running proxy, and `clear` undoes it', async () => {
    const { dir, args } = setUp();
    t.serve = await startServeProcess([...args, '--hosts-file', path.join(dir, 'hosts')]);
    const client = new KeepAliveClient(t.serve.port);
    const url = `http://www.facebook.com:${t.origin.port}/`;
    expect((await client.get(url)).status).toBe(403); // guest: social blocked
    const set = await runCli(['profiles', 'set', 'guest', 'social', 'allow', '--reason', 'trial', ...args]);
    expect(set.stdout).toContain('profile guest: social block (config) -> allow (local)');
    expect(set.stdout).toContain('running proxy reloaded');
    expect(await client.get(url)).toMatchObject({ status: 200, reused: true });
    const clear = await runCli(['profiles', 'set', 'guest', 'social', 'clear', ...args]);
    expect(clear.stdout).toContain('running proxy reloaded');
    expect(await client.get(url)).toMatchObject({ status: 403, reused: true });
    client.close();
    // status names how clients are identified: here Basic auth is off and nothing maps addresses.
    const status = JSON.parse((await runCli(['status', '--json', ...args])).stdout) as StatusJson;
    expect(status.identity).toEqual({
      basicAuth: false,
      requireAuth: false,
      networks: 0,
      devices: 0,
      guestProfile: 'guest',
    });
    expect((await runCli(['status', ...args])).stdout).toMatch(
      /^identity +basic auth OFF \(users cannot sign in; identity\.basicAuth\); address mapping 0 networks, 0 devices; else profile guest$/m,
    );
  });

  it('reload applies an edited config file, names settings that need a restart, and records the change', async () => {
    const { dir, args } = setUp();
    t.serve = await startServeProcess([...args, '--hosts-file', path.join(dir, 'hosts')]);
    const client = new KeepAliveClient(t.serve.port);
    const url = `http://www.facebook.com:${t.origin.port}/`;
    expect((await client.get(url)).status).toBe(403);
    writeFileSync(
      path.join(dir, 'config.yaml'),
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        httpPorts: [t.origin.port],
        limits: { maxConnections: 500, keepAliveTimeoutMs: KEEP_ALIVE_MS },
        profiles: { ...FIXTURE_PROFILES, guest: { categories: { adult: 'block' } }, open: {} },
      }),
    );
    const r = await runCli(['reload', '--reason', 'allow social for guests', ...args]);
    expect(r.stdout).toMatch(/reloaded in \d+ ms/);
    expect(r.stdout).toContain('need a restart to apply: limits');
    expect(await client.get(url)).toMatchObject({ status: 200, reused: true });
    const changes = JSON.parse((await runCli(['changes', '--json', ...args])).stdout) as {
      action: string;
      after: { changed: string[] };
      reason: string;
    }[];
    expect(changes).toMatchObject([
      {
        action: 'config.reload',
        after: { changed: ['profiles', 'limits'] },
        reason: 'allow social for guests',
      },
    ]);
    // A config with a mistake is refused (the CLI reads it first, as the proxy would); the running one stays.
    writeFileSync(path.join(dir, 'config.yaml'), 'listen:\n  port: 3128\n  colour: blue\n');
    const bad = await runCli(['reload', ...args]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/SG_CONFIG_INVALID: .*listen\.colour \(line 3\): unknown key "colour"/);
    expect(await client.get(url)).toMatchObject({ status: 200, reused: true });
    client.close();
  });

  it('selftest passes every probe, --record stores the run, and a blocked must-reach site fails it', async () => {
    const { dir, args } = setUp();
    const mustReach = [
      `http://www.childline.org.uk:${t.origin.port}/`,
      `http://www.samaritans.org:${t.origin.port}/`,
    ];
    writeFileSync(
      path.join(dir, 'config.yaml'),
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        httpPorts: [t.origin.port],
        profiles: FIXTURE_PROFILES,
        selftest: { mustReach },
      }),
    );
    writeFileSync(
      path.join(dir, 'hosts'),
      [...ROUTED_NAMES, 'www.childline.org.uk', 'www.samaritans.org'].map((n) => `127.0.0.1 ${n}`).join('\n'),
    );
    t.serve = await startServeProcess([...args, '--hosts-file', path.join(dir, 'hosts')]);
    const r = await runCli(['selftest', '--json', '--record', '--by', 'IT', ...args]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as {
      passed: number;
      failed: number;
      ownProfile: string;
      recorded: number;
      rows: {
        profile: string;
        url: string;
        kind: string;
        policy: string;
        proxy: string | null;
        pass: boolean;
      }[];
    };
    expect(out.failed).toBe(0);
    expect(out.ownProfile).toBe('guest');
    // 4 categories + 2 must-reach sites, for 3 profiles.
    expect(out.rows).toHaveLength(18);
    const guestChildline = out.rows.find((x) => x.profile === 'guest' && x.url === mustReach[0]);
    expect(guestChildline).toMatchObject({ policy: 'allow', proxy: 'passed 200', pass: true });
    expect(out.rows.find((x) => x.profile === 'guest' && x.url === 'http://facebook.com/')).toMatchObject({
      policy: 'block',
      proxy: 'refused 403',
    });
    expect(out.recorded).toBe(1);

    await runCli(['lists', 'add', 'social', 'www.childline.org.uk', ...args]);
    const broken = await runCli(['selftest', '--profile', 'pupil', ...args]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(
      /pupil +http:\/\/www\.childline\.org\.uk:\d+\/ \(must reach\) +allow +block .*FAIL/,
    );
    expect(broken.stdout).toMatch(/passed, 1 failed/);
    const history = await runCli(['selftest', '--history', ...args]);
    expect(history.stdout).toMatch(/run 1 +18 passed, 0 failed +by IT/);
    const unknown = await runCli(['selftest', '--profile', 'wizard', ...args]);
    expect(unknown.stderr).toContain('SG_PROFILE_UNKNOWN');
  });
});
