/**
 * `schoolgate lists update` against a loopback HTTPS server (a CA made in the test, trusted through
 * lists.sources[].ca) serving a UT1-shaped tarball built here byte by byte: what it imports into the
 * provider layer, what it prints and records, how local edits sit above it, and that every failure
 * (download, checksum, broken or hostile archive, shrink) leaves the provider layer in force untouched.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nextRunAt } from '../../../src/alerts/digest/schedule.js';
import { startSchoolgate, type RunningSchoolgate } from '../../../src/app/start.js';
import { loadConfig } from '../../../src/config/load.js';
import { rememberLocation } from '../../../src/config/location.js';
import type { UpdateRun } from '../../../src/lists/update/schedule.js';
import { TestClock } from '../../helpers/test-clock.js';
import { caChain, issue } from '../../helpers/certs.js';
import { CLI, runCli, startServeProcess } from '../../helpers/cli.js';
import { useServeAndOrigin } from '../../helpers/serve-and-origin.js';
import { FIXTURE_PROFILES, ROUTED_NAMES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

interface TarEntry {
  name: string;
  body?: string;
  /** ustar type flag: 0 file, 1 hard link, 2 symbolic link, 5 folder. */
  type?: '0' | '1' | '2' | '5';
  link?: string;
}

/** A ustar archive, gzipped: written by hand so a test can put anything in a header. */
function tarGz(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${body.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(e.type ?? '0', 156);
    if (e.link) h.write(e.link, 157, 100);
    h.write('ustar\0' + '00', 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

const lines = (...hosts: string[]) => `${hosts.join('\n')}\n`;

/** A UT1-shaped tree: mapped folders, a white list, an alias, a folder no map names. */
function ut1(adult: string[], extra: TarEntry[] = []): Buffer {
  return tarGz([
    { name: 'blacklists/', type: '5' },
    { name: 'blacklists/adult/', type: '5' },
    { name: 'blacklists/adult/domains', body: lines(...adult) },
    { name: 'blacklists/adult/usage', body: 'black\n' },
    { name: 'blacklists/gambling/domains', body: lines('casino-one.example', 'bet.test', 'co.uk') },
    { name: 'blacklists/audio-video/domains', body: lines('tube-one.example') },
    { name: 'blacklists/radio/domains', body: lines('radio-one.example', 'tube-one.example') },
    { name: 'blacklists/child/domains', body: lines('kids.example') },
    { name: 'blacklists/child/usage', body: 'white\n' },
    { name: 'blacklists/sect/domains', body: lines('sect.example') },
    { name: 'blacklists/porn', type: '2', link: 'adult' },
    ...extra,
  ]);
}

const ADULT = ['notblocked.example', 'adult-one.example', 'adult-two.example', 'adult-three.example'];

/** What the loopback server answers: path → body (or an HTTP status). */
const routes = new Map<string, Buffer | number>();
let server: https.Server;
let base: string;
let caFile: string;

function publish(tarball: Buffer, sum = createHash('md5').update(tarball).digest('hex')): void {
  routes.set('/download/blacklists.tar.gz', tarball);
  routes.set(
    '/download/MD5SUM.LST',
    Buffer.from(`0123456789abcdef0123456789abcdef  adult.tar.gz\n${sum}  blacklists.tar.gz\n`),
  );
}

beforeAll(async () => {
  const { root } = caChain('lists-update');
  const leaf = issue({ cn: '127.0.0.1', ips: ['127.0.0.1'], issuer: root });
  const dir = tempDir();
  caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, root.certPem);
  server = https.createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    const r = routes.get(req.url ?? '');
    if (r === undefined || typeof r === 'number') res.writeHead(typeof r === 'number' ? r : 404).end();
    else res.writeHead(200, { 'content-length': r.length }).end(r);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let dir: string;
let data: string;
let args: string[];

function writeConfig(source: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): void {
  const config = {
    listen: { host: '127.0.0.1', port: 0 },
    profiles: FIXTURE_PROFILES,
    lists: {
      sources: [
        {
          name: 'ut1',
          url: `${base}/download/blacklists.tar.gz`,
          checksumUrl: `${base}/download/MD5SUM.LST`,
          root: 'blacklists',
          map: {
            adult: 'adult',
            gambling: 'gambling',
            'audio-video': 'streaming',
            radio: 'streaming',
            child: 'social',
            porn: 'adult',
          },
          ca: caFile,
          ...source,
        },
      ],
    },
    ...extra,
  };
  writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify(config));
}

beforeEach(() => {
  dir = tempDir();
  const categories = writeFixtureCategories(path.join(dir, 'categories'));
  data = path.join(dir, 'data');
  args = ['--config', path.join(dir, 'config.yaml'), '--data', data, '--categories', categories];
  writeConfig();
  publish(ut1(ADULT));
});

const cli = (...a: string[]) => runCli([...a, ...args]);

async function pupil(url: string): Promise<{ action: string; categories: string[] }> {
  const r = await cli('explain', url, '--profile', 'pupil', '--json');
  return JSON.parse(r.stdout) as { action: string; categories: string[] };
}

interface UpdateJson {
  applied: boolean;
  generation: string;
  changes: Record<string, { before: number; after: number; added: number; removed: number }>;
  imported: { folder: string; category: string; added: number; invalid: number }[];
  leftOut: { folder: string; reason: string }[];
  sources: { name: string; algorithm: string; checksum: string }[];
}

const current = () => realpathSync(path.join(data, 'categories.provider', 'current'));

describe('lists update', { timeout: 120_000 }, () => {
  it('imports the mapped folders into the provider layer, prints the change per category and records it', async () => {
    expect((await pupil('https://adult-one.example/')).action).toBe('allow');
    const r = await cli('lists', 'update', '--reason', 'first fetch');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^fetched ut1: https:\/\/127\.0\.0\.1:\d+\/download\/blacklists\.tar\.gz \(\d+ bytes, md5 [0-9a-f]{32} as published\)$/m,
    );
    expect(r.stdout).toMatch(/^adult\s+0\s+4\s+\+4\s+-0\s+ut1:adult$/m);
    expect(r.stdout).toMatch(/^gambling\s+0\s+2\s+\+2\s+-0\s+ut1:gambling$/m);
    // Two folders fill one category; the host in both is one entry.
    expect(r.stdout).toMatch(/^streaming\s+0\s+2\s+\+2\s+-0\s+ut1:audio-video, ut1:radio$/m);
    expect(r.stdout).toContain('ut1:gambling: 1 invalid lines left out');
    expect(r.stdout).toContain('not imported: ut1:child (usage-white)');
    expect(r.stdout).toContain('not imported: ut1:porn (not-in-tarball)'); // a symlink is never unpacked
    expect(r.stdout).toContain(
      'folders no map names (not imported; add them to lists.sources[].map to use them): ut1:sect',
    );
    expect(r.stdout).toContain('proxy not running here');

    expect(await pupil('https://www.adult-one.example/x')).toMatchObject({
      action: 'block',
      categories: ['adult'],
    });
    expect((await pupil('https://radio-one.example/')).categories).toEqual(['streaming']);
    expect((await pupil('https://kids.example/')).categories).toEqual([]);
    expect((await pupil('https://sect.example/')).categories).toEqual([]);
    // `lists find` names the layer: the fixture's shipped bet.test is also in the provider layer.
    const found = await cli('lists', 'find', 'https://adult-one.example/');
    expect(found.stdout).toMatch(/^adult\s+provider\s+domain\s+adult-one\.example$/m);
    expect((await cli('lists', 'find', 'https://bet.test/')).stdout).toMatch(/^gambling\s+shipped\s/m);

    const manifest = JSON.parse(readFileSync(path.join(current(), 'provider.json'), 'utf8')) as {
      categories: Record<string, string[]>;
    };
    expect(manifest.categories).toEqual({
      adult: ['ut1:adult'],
      gambling: ['ut1:gambling'],
      streaming: ['ut1:audio-video', 'ut1:radio'],
    });
    const changes = JSON.parse((await cli('changes', '--json')).stdout) as unknown[];
    expect(changes).toMatchObject([
      {
        action: 'lists.update',
        target: 'ut1',
        reason: 'first fetch',
        after: { changes: { adult: { before: 0, after: 4, added: 4, removed: 0 } } },
      },
    ]);
  });

  it('a second update counts what was added and removed; local edits stay above the provider layer', async () => {
    expect((await cli('lists', 'update')).code).toBe(0);
    const first = current();
    // The school un-lists one provider entry and adds one of its own.
    const removed = await cli('lists', 'remove', 'adult', 'adult-two.example', '--reason', 'a museum');
    expect(removed.stdout).toMatch(/adult-two\.example.*provider/);
    expect((await cli('lists', 'add', 'adult', 'local-only.example')).code).toBe(0);

    publish(
      ut1([
        'notblocked.example',
        'adult-one.example',
        'adult-two.example',
        'adult-four.example',
        'adult-five.example',
      ]),
    );
    const r = await cli('lists', 'update', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as UpdateJson;
    expect(j.changes.adult).toEqual({ before: 4, after: 5, added: 2, removed: 1 });
    expect(j.changes.gambling).toEqual({ before: 2, after: 2, added: 0, removed: 0 });
    expect(current()).not.toBe(first);
    // The replaced generation stays one update, then goes.
    expect(
      readdirSync(path.join(data, 'categories.provider')).filter((n) => n.startsWith('gen-')),
    ).toHaveLength(2);

    expect((await pupil('https://adult-two.example/')).action).toBe('allow');
    expect((await pupil('https://adult-three.example/')).action).toBe('allow');
    expect((await pupil('https://adult-four.example/')).action).toBe('block');
    expect((await pupil('https://local-only.example/')).action).toBe('block');
  });

  it('a dry run fetches and compares but changes nothing (and clears what a killed update left)', async () => {
    mkdirSync(path.join(data, 'categories.provider', '.update-killed', 'ut1'), { recursive: true });
    const r = await cli('lists', 'update', '--dry-run', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as UpdateJson;
    expect(j.applied).toBe(false);
    expect(j.changes.adult).toMatchObject({ before: 0, after: 4 });
    expect(existsSync(path.join(data, 'categories.provider', 'current'))).toBe(false);
    expect(readdirSync(path.join(data, 'categories.provider'))).toEqual([]);
  });

  describe('every failure keeps the provider layer in force', () => {
    let before: string;
    beforeEach(async () => {
      expect((await cli('lists', 'update')).code).toBe(0);
      before = current();
    });

    async function refused(code: string, message: RegExp): Promise<void> {
      const r = await cli('lists', 'update');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error ${code}: `));
      expect(r.stderr).toMatch(message);
      expect(current()).toBe(before);
      expect((await pupil('https://adult-one.example/')).action).toBe('block');
      // Nothing half-built or downloaded is left behind.
      expect(readdirSync(path.join(data, 'categories.provider')).sort()).toEqual(
        ['current', path.basename(before)].sort(),
      );
      const changes = JSON.parse((await cli('changes', '--json')).stdout) as unknown[];
      expect(changes).toHaveLength(1);
    }

    it('a tarball that does not match its published checksum', async () => {
      publish(ut1(['other.example']), createHash('md5').update('something else').digest('hex'));
      await refused('SG_LIST_CHECKSUM_MISMATCH', /md5 [0-9a-f]{32} is not the published [0-9a-f]{32}/);
    });

    it('a checksum file with no line for the tarball', async () => {
      routes.set('/download/MD5SUM.LST', Buffer.from('0123456789abcdef0123456789abcdef  adult.tar.gz\n'));
      await refused('SG_LIST_CHECKSUM_MISMATCH', /has no checksum line for blacklists\.tar\.gz/);
    });

    it('a download the server refuses, or one bigger than maxDownloadMB', async () => {
      routes.set('/download/blacklists.tar.gz', 503);
      await refused('SG_LIST_DOWNLOAD_FAILED', /blacklists\.tar\.gz: HTTP 503/);
      publish(ut1(ADULT));
      writeConfig({ maxDownloadMB: 0.0001 });
      await refused('SG_LIST_DOWNLOAD_FAILED', /more than the 104 allowed/);
    });

    it('a server whose certificate is not trusted (no ca)', async () => {
      writeConfig({ ca: null });
      await refused(
        'SG_LIST_DOWNLOAD_FAILED',
        /MD5SUM\.LST: .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER|SELF_SIGNED)/i,
      );
    });

    it('a truncated tarball (its checksum matching)', async () => {
      const whole = ut1(['other.example']);
      publish(whole.subarray(0, whole.length - 40));
      await refused('SG_LIST_ARCHIVE_INVALID', /not a readable tar\.gz/);
    });

    it('a path that climbs out of the archive, or a hard link', async () => {
      publish(ut1(['other.example'], [{ name: 'blacklists/../../escaped', body: 'x\n' }]));
      await refused('SG_LIST_ARCHIVE_INVALID', /climbs out/);
      expect(existsSync(path.join(data, 'escaped'))).toBe(false);
      expect(existsSync(path.join(data, 'categories.provider', 'escaped'))).toBe(false);
      publish(ut1(['other.example'], [{ name: 'blacklists/adult/urls', type: '1', link: '/etc/passwd' }]));
      await refused('SG_LIST_ARCHIVE_INVALID', /blacklists\/adult\/urls is a Link/);
    });

    it('files adding up to more than maxUnpackedMB', async () => {
      writeConfig({ maxUnpackedMB: 0.0001 });
      publish(ut1(ADULT));
      await refused('SG_LIST_ARCHIVE_INVALID', /add up to more than 104 bytes/);
    });

    it('a category that would shrink past lists.maxShrinkShare, unless --force', async () => {
      publish(ut1(['adult-one.example']));
      await refused(
        'SG_CATEGORY_SHRANK',
        /adult from 4 to 1 provider entries: more than lists\.maxShrinkShare 20%/,
      );
      const forced = await cli('lists', 'update', '--force');
      expect(forced.code).toBe(0);
      expect(forced.stdout).toContain('forced past the shrink check: adult');
      expect((await pupil('https://adult-two.example/')).action).toBe('allow');
    });

    it('a list file with too many invalid lines', async () => {
      publish(ut1([...ADULT, 'bad host', 'also bad', 'not valid', '@@', '!!', '**x']));
      await refused('SG_LIST_FILE_INVALID', /blacklists\/adult\/domains/);
    });
  });

  it('a map naming no category is refused before anything is downloaded', async () => {
    writeConfig({ map: { adult: 'nope' } });
    routes.delete('/download/MD5SUM.LST');
    const r = await cli('lists', 'update');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'SG_CATEGORY_UNKNOWN: lists.sources ut1: adult is mapped to "nope", which is no category',
    );
  });

  it('config check refuses a source over plain http', async () => {
    writeConfig({ url: 'http://127.0.0.1/blacklists.tar.gz' });
    const r = await cli('config', 'check');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('lists.sources.0.url');
  });
});

describe('lists update with a running proxy', { timeout: 120_000 }, () => {
  const t = useServeAndOrigin();

  it('reloads it through the control socket: the next request meets the provider entries', async () => {
    writeConfig({}, { httpPorts: [t.origin.port] });
    writeFileSync(path.join(dir, 'hosts'), ROUTED_NAMES.map((n) => `127.0.0.1 ${n}`).join('\n'));
    t.serve = await startServeProcess([...args, '--hosts-file', path.join(dir, 'hosts')]);
    const url = `http://notblocked.example:${t.origin.port}/`;
    expect(await statusVia(t.serve.port, url)).toBe(200);
    const r = await cli('lists', 'update');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('running proxy reloaded');
    expect(await statusVia(t.serve.port, url)).toBe(403);
  });
});

function statusVia(proxyPort: number, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: proxyPort, path: url, headers: { host: new URL(url).host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

describe('lists.updateAt', { timeout: 120_000 }, () => {
  let sg: RunningSchoolgate | undefined;
  afterEach(async () => {
    await sg?.stop();
    sg = undefined;
  });

  function startWith(updateAt: string | null, clock: TestClock): Promise<RunningSchoolgate> {
    writeConfig({}, { timeZone: 'Europe/London' });
    const file = path.join(dir, 'config.yaml');
    const written = JSON.parse(readFileSync(file, 'utf8')) as { lists: Record<string, unknown> };
    written.lists.updateAt = updateAt;
    writeFileSync(file, JSON.stringify(written));
    const config = rememberLocation(
      loadConfig(file, { dataDir: data, categoriesDir: path.join(dir, 'categories') }),
      { file, source: 'option' },
    );
    return startSchoolgate(config, pino({ level: 'silent' }), { listUpdates: { clock, cli: CLI } });
  }

  it('off by default: nothing is scheduled', async () => {
    sg = await startWith(null, new TestClock(Date.now()));
    expect(sg.listUpdates).toBeNull();
  });

  it('runs the update once a day at that time, recorded as scheduled, and reloads the proxy', async () => {
    const clock = new TestClock(Date.now());
    sg = await startWith('06:15', clock);
    const schedule = sg.listUpdates!;
    const due = nextRunAt(new Date(clock.now()), { kind: 'daily', time: '06:15' }, 'Europe/London').getTime();
    expect(schedule.nextAt).toBe(due);
    clock.advanceTo(due - 60_000);
    expect(schedule.runs).toBe(0);
    const ran = new Promise<UpdateRun>((resolve) => schedule.once('ran', resolve));
    clock.advanceTo(due);
    const run = await ran;
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain('running proxy reloaded');
    expect(schedule.nextAt).toBe(
      nextRunAt(new Date(due + 1000), { kind: 'daily', time: '06:15' }, 'Europe/London').getTime(),
    );
    expect((await pupil('https://adult-one.example/')).action).toBe('block');
    const changes = JSON.parse((await cli('changes', '--json')).stdout) as unknown[];
    expect(changes).toMatchObject([{ action: 'lists.update', by: 'scheduled' }]);
  });
});
