/**
 * `schoolgate selftest`: probe URLs, one or more per category plus the sites that must stay reachable
 * (help lines, search engines, the school's platforms: config `selftest.mustReach`), checked for every
 * profile against the running proxy's live policy (control socket), and sent through the proxy itself for
 * the profile this machine gets. `--record` stores the dated result (the DfE standards ask schools to
 * record their filtering checks at least once a year).
 *
 * Through the proxy, only probes that must be refused, and the must-reach sites, are sent: an allowed
 * category probe would make the proxy fetch a real site, which a check should not depend on.
 */
import { effectiveProfiles } from '../../config/profiles.js';
import type { ProfileConfig } from '../../config/schema.js';
import { readProfileOverrides } from '../../lists/profile-overrides.js';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { Command } from 'commander';
import { controlRequest } from '../../app/control.js';
import type { StatusReport } from '../../app/status.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import { SELFTEST_HEADER } from '../../exchange/selftest-probes.js';
import { catalogue, forEachEntry } from '../../lists/catalogue.js';
import { auditPathOf } from '../../reports/run.js';
import { probeRuns, type ProbeRun } from '../../reports/selftest-rows.js';
import { openReadOnly } from '../../reports/source.js';
import type { SelftestRun } from '../../state/selftests.js';
import { withState } from '../../state/store.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';

type Action = 'allow' | 'warn' | 'block';
const SEVERITY: Record<Action, number> = { allow: 0, warn: 1, block: 2 };

interface Probe {
  url: string;
  kind: 'category' | 'must-reach';
  category?: string;
}

interface Row {
  profile: string;
  url: string;
  kind: Probe['kind'];
  category: string | null;
  expected: Action;
  policy: Action;
  proxy: string | null;
  pass: boolean;
  note: string;
}

interface Opts extends CommonOptions {
  profile?: string;
  record?: boolean;
  by?: string;
  json?: boolean;
  history?: boolean;
}

export function registerSelftest(program: Command): void {
  withCommonOptions(program.command('selftest'))
    .description('check the running proxy: probe URLs per category and must-reach sites, per profile')
    .option('--profile <name>', 'only this profile')
    .option('--record', 'store the dated result (filtering checks should be recorded at least yearly)')
    .option('--by <name>', 'who ran the check, for the record')
    .option('--history', 'list recorded runs instead of running')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      '\nMust-reach sites come from config `selftest.mustReach` (add the learning platform there); a\ncategory is probed with `selftest.probes.<category>` or else its first listed domain.\n\nExamples:\n  schoolgate selftest\n  schoolgate selftest --profile pupil --record --by "IT technician"\n  schoolgate selftest --history',
    )
    .action(async (opts: Opts) => {
      const config = configFrom(opts);
      if (opts.history) return void (await printHistory(config, opts.json ?? false));
      const status = await controlRequest<StatusReport>(config.dataDir, 'status');
      const live = await controlRequest<string[]>(config.dataDir, 'profiles');
      if (opts.profile && !live.includes(opts.profile))
        throw new SchoolgateError('SG_PROFILE_UNKNOWN', `--profile: no profile named "${opts.profile}"`, {
          suggestion: `use one of: ${live.join(', ')}`,
        });
      const profiles = opts.profile ? [opts.profile] : live;
      const probes = await probesFor(config);
      // What each profile should do: the config's profiles with `profiles set` on top, as the proxy loads them.
      const effective = effectiveProfiles(config, await readProfileOverrides(config.dataDir)).profiles;
      const own = (
        await controlRequest<{ profile: string | null }>(config.dataDir, 'whoami', { ip: '127.0.0.1' })
      ).profile;
      // The run marks the probes' audit rows, so reports and alerts leave them out (selftest-probes.ts).
      const { run, token } = await controlRequest<{ run: string; token: string }>(
        config.dataDir,
        'selftest-begin',
      );
      const rows: Row[] = [];
      try {
        await probeAll();
      } finally {
        await controlRequest(config.dataDir, 'selftest-end', { token }).catch(() => undefined);
      }
      async function probeAll(): Promise<void> {
        for (const profile of profiles) {
          const decided = await controlRequest<
            { url: string; action: Action; categories: string[]; rule: string }[]
          >(config.dataDir, 'decide', { profile, urls: probes.map((p) => p.url) });
          for (const [i, probe] of probes.entries()) {
            const d = decided[i]!;
            const expected = expectedAction(effective, profile, probe);
            let pass =
              d.action === expected ||
              d.rule === 'time-window' ||
              (probe.kind === 'category' &&
                SEVERITY[d.action] > SEVERITY[expected] &&
                d.categories.length > 1);
            let note = d.rule === 'time-window' ? 'time window open' : d.categories.join(',');
            let proxied: string | null = null;
            if (profile === own && (probe.kind === 'must-reach' || d.action !== 'allow')) {
              const answer = await throughProxy(status.listen, probe.url, token);
              proxied = answer.refused
                ? `refused ${answer.status}`
                : answer.error
                  ? 'error'
                  : `passed ${answer.status}`;
              const verdict = proxyVerdict(probe.kind, answer);
              if (verdict !== null) {
                pass = false;
                note = verdict;
              }
            }
            rows.push({
              profile,
              url: probe.url,
              kind: probe.kind,
              category: probe.category ?? null,
              expected,
              policy: d.action,
              proxy: proxied,
              pass,
              note,
            });
          }
        }
      }
      const passed = rows.filter((r) => r.pass).length;
      const failed = rows.length - passed;
      let recorded: number | undefined;
      if (opts.record)
        recorded = await withState(config.dataDir, (s) =>
          s.selftests.record({
            passed,
            failed,
            result: { proxy: status.listen, ownProfile: own, probeRun: run, rows },
            by: opts.by,
          }),
        );
      if (opts.json)
        console.log(
          JSON.stringify({
            at: new Date().toISOString(),
            passed,
            failed,
            ownProfile: own,
            probeRun: run,
            recorded,
            rows,
          }),
        );
      else printTable(rows, own, passed, failed, recorded);
      if (failed > 0) process.exitCode = 1;
    });
}

function expectedAction(
  profiles: Readonly<Record<string, ProfileConfig>>,
  profile: string,
  probe: Probe,
): Action {
  if (probe.kind === 'must-reach') return 'allow';
  const p = Object.hasOwn(profiles, profile) ? profiles[profile] : undefined;
  if (!p) return 'allow';
  return (p.categories[probe.category!] as Action | undefined) ?? 'allow';
}

const FOUND = Symbol('found');

async function probesFor(config: ReadonlyConfig): Promise<Probe[]> {
  const dirs = { categoriesDir: config.categoriesDir, dataDir: config.dataDir };
  const probes: Probe[] = [];
  for (const name of [...(await catalogue(dirs)).keys()].sort()) {
    const configured = config.selftest.probes[name];
    if (configured) {
      for (const url of configured) probes.push({ url: withScheme(url), kind: 'category', category: name });
      continue;
    }
    let first: string | undefined;
    await forEachEntry(dirs, name, 'shipped', (e) => {
      if (e.removed || e.kind !== 'domain') return;
      first = e.entry;
      throw FOUND; // stop reading: one probe is enough
    }).catch((err: unknown) => {
      if (err !== FOUND) throw err;
    });
    if (first) probes.push({ url: `http://${first}/`, kind: 'category', category: name });
  }
  for (const url of config.selftest.mustReach) probes.push({ url: withScheme(url), kind: 'must-reach' });
  return probes;
}

function withScheme(url: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}/`;
}

interface ProxyAnswer {
  status: number;
  refused: boolean;
  error?: string;
}

/** Statuses that say the proxy could not fetch (or record) a site: never a pass for a must-reach site. */
const UNREACHED: Record<number, string> = {
  502: 'the proxy could not reach the site (502)',
  503: 'the proxy refused: its audit log is unavailable (503)',
  504: 'the site did not answer the proxy in time (504)',
};

/** Why the answer through the proxy fails the probe, or null when it passes. */
export function proxyVerdict(kind: Probe['kind'], answer: ProxyAnswer): string | null {
  if (answer.error) return `proxy: ${answer.error}`;
  if (kind === 'category') return answer.refused ? null : `proxy answered ${answer.status}`;
  if (answer.refused) return `proxy answered ${answer.status}`;
  return UNREACHED[answer.status] ?? null;
}

function throughProxy(listen: string, url: string, token: string): Promise<ProxyAnswer> {
  const colon = listen.lastIndexOf(':');
  let host = listen.slice(0, colon);
  if (host === '0.0.0.0' || host === '::' || host === '') host = '127.0.0.1';
  const port = Number(listen.slice(colon + 1));
  // HTTPS probes are sent as plain HTTP to the same host: the decision is on the host and path.
  const target = url.replace(/^https:/i, 'http:');
  return new Promise((resolve) => {
    const req = http.request(
      {
        host,
        port,
        path: target,
        method: 'GET',
        headers: { host: new URL(target).host, [SELFTEST_HEADER]: token },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, refused: res.statusCode === 403 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ status: 0, refused: false, error: err.message }));
    req.end();
  });
}

function printTable(
  rows: Row[],
  own: string | null,
  passed: number,
  failed: number,
  recorded?: number,
): void {
  const label = (r: Row) => (r.kind === 'must-reach' ? `${r.url} (must reach)` : `${r.url} [${r.category}]`);
  const w = Math.max(5, ...rows.map((r) => label(r).length));
  console.log(
    `${'profile'.padEnd(12)} ${'probe'.padEnd(w)} ${'expected'.padEnd(8)} ${'policy'.padEnd(7)} ${'proxy'.padEnd(12)} result`,
  );
  for (const r of rows)
    console.log(
      `${r.profile.padEnd(12)} ${label(r).padEnd(w)} ${r.expected.padEnd(8)} ${r.policy.padEnd(7)} ${(r.proxy ?? '-').padEnd(12)} ${r.pass ? 'PASS' : `FAIL ${r.note}`}`,
    );
  console.log(
    `\n${passed} passed, ${failed} failed. "policy" is the running proxy's live policy; "proxy" is a real request through it, as this machine (profile ${own ?? 'none'}).`,
  );
  if (recorded !== undefined) console.log(`recorded as selftest run ${recorded}`);
}

/** Recorded runs (state database), then the probes' rows in the audit log, which reports leave out. */
/** What `selftest --history` shows (the console's too): recorded runs, and the probe rows in the audit log. */
export async function selftestHistory(
  config: ReadonlyConfig,
): Promise<{ runs: SelftestRun[]; probes: ProbeRun[] }> {
  const runs = await withState(config.dataDir, (s) => s.selftests.list());
  const auditPath = auditPathOf(config);
  let probes: ProbeRun[] = [];
  if (existsSync(auditPath)) {
    const db = openReadOnly(auditPath);
    try {
      probes = probeRuns(db);
    } finally {
      db.close();
    }
  }
  return { runs, probes };
}

async function printHistory(config: ReadonlyConfig, json: boolean): Promise<void> {
  const { runs, probes } = await selftestHistory(config);
  if (json)
    return void console.log(
      JSON.stringify({
        runs: runs.map(({ result, ...r }) => ({ ...r, probeRun: probeRunOf(result) })),
        probes,
      }),
    );
  if (runs.length === 0) console.log('no selftest runs recorded');
  for (const r of runs)
    console.log(
      `${r.at}  run ${r.id}  ${r.passed} passed, ${r.failed} failed  by ${r.by ? `${r.by} (as ${r.osUser})` : r.osUser}`,
    );
  if (probes.length === 0) return void console.log('\nno selftest probes in the audit log');
  console.log('\nSelftest probes in the audit log (left out of every report, review and alert):');
  for (const p of probes) {
    console.log(`${p.first}  probe run ${p.run}  ${p.rows.length} rows`);
    for (const r of p.rows)
      console.log(
        `  ${r.time}  ${r.action.padEnd(7)} ${String(r.status ?? '-').padEnd(4)} ${r.host}${r.path ?? ''}${r.categories.length ? `  [${r.categories.join(',')}]` : ''}`,
      );
  }
}

function probeRunOf(result: unknown): string | null {
  const run = (result as { probeRun?: unknown } | null)?.probeRun;
  return typeof run === 'string' ? run : null;
}
