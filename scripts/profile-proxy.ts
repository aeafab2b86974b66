/**
 * A CPU profile of schoolgate serving the bench's plain HTTP load: the bench's origins and schoolgate (Basic
 * auth, UT1, strict audit) started as `npm run bench` starts them, `node --cpu-prof` on the serve process,
 * wrk for a warm-up and then for the measured run, SIGTERM (the profile is written on exit), and the top
 * self-time items printed with their share of the busy (non-idle) time.
 *
 *   npm run build && node dist/scripts/profile-proxy.js [--connections 16] [--seconds 8] [--route /1k]
 *     [--top 25] [--out /tmp/sg-profile] [--ut1 dir] [--no-profile]
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { numberOption, stringOption } from './args.js';
import { allHostNames } from './bench/names.js';
import { startHttpOrigin, startTlsOrigin } from './bench/origins.js';
import { treeUsage } from './bench/proc.js';
import { schoolgate } from './bench/schoolgate.js';
import { pinTo, stop } from './bench/spawn.js';
import { runWrk } from './bench/wrk.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const CONNECTIONS = numberOption('connections', 16);
const SECONDS = Math.min(numberOption('seconds', 8), 30);
const ROUTE = stringOption('route') ?? '/1k';
const TOP = numberOption('top', 25);
/** --no-profile: the per-thread CPU figures without the profiler's own cost. */
const PROFILE = !process.argv.includes('--no-profile');
const UT1 = path.resolve(stringOption('ut1') ?? path.join(here, '..', '..', '..', 'shared', 'data', 'ut1'));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time per function (name, file, line), busy time only, of the samples within `window` (µs on the
 * monotonic clock V8 and process.hrtime share): the top `n` with their share.
 */
export function topSelfTime(profile: Profile, n: number, window: [number, number]): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let busy = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < window[0] || at > window[1]) continue;
    const frame = byId.get(profile.samples[i]!)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    const dt = profile.timeDeltas[i] ?? 0;
    const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/');
    const key = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    busy += dt;
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, us]) => `${((100 * us) / busy).toFixed(1).padStart(5)} %  ${key}`);
}

/** CPU ticks per thread of `pid` (/proc/<pid>/task), user and system, by thread id and name. */
function threadTicks(pid: number): Map<string, [number, number]> {
  const ticks = new Map<string, [number, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const line = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = line.slice(line.indexOf('(') + 1, line.lastIndexOf(')'));
      const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
      ticks.set(`${tid} ${name}`, [Number(fields[11]), Number(fields[12])]);
    } catch {
      // the thread ended
    }
  }
  return ticks;
}

async function main(): Promise<void> {
  const top = mkdtempSync(path.join(os.tmpdir(), 'sg-profile-'));
  const out = path.resolve(stringOption('out') ?? path.join(top, 'profile'));
  mkdirSync(out, { recursive: true });
  const httpOrigin = await startHttpOrigin(top);
  const tlsOrigin = await startTlsOrigin(top);
  const hostsFile = path.join(top, 'hosts');
  writeFileSync(
    hostsFile,
    allHostNames(['sg-r0'], 10)
      .map((n) => `127.0.0.1 ${n}\n`)
      .join(''),
  );
  const dir = path.join(top, 'sg');
  mkdirSync(dir);
  const nodeArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${out}`] : [];
  const sg = schoolgate(existsSync(UT1) ? UT1 : undefined, undefined, nodeArgs);
  const r = await sg.start({ top, dir, httpOrigin, tlsOrigin, hostsFile });
  const load = (seconds: number) =>
    runWrk({
      dir: top,
      pin: pinTo(1),
      proxyPort: r.port,
      url: r.httpUrl(ROUTE),
      headers: r.headers,
      connections: CONNECTIONS,
      seconds,
    });
  load(2);
  const threadsBefore = threadTicks(r.process.pid);
  const before = treeUsage(r.process.pid);
  const from = Number(process.hrtime.bigint() / 1000n);
  const result = load(SECONDS);
  const to = Number(process.hrtime.bigint() / 1000n);
  const after = treeUsage(r.process.pid);
  const threadsAfter = threadTicks(r.process.pid);
  const exited = new Promise((resolve) => r.process.child.once('exit', resolve));
  process.kill(r.process.pid, 'SIGTERM');
  await exited;
  await stop(httpOrigin.process);
  await stop(tlsOrigin.process);
  const files = readdirSync(out).filter((f) => f.endsWith('.cpuprofile'));
  console.log(
    `${ROUTE} c${CONNECTIONS}: ${result.requests} requests, ${(result.requests / result.seconds).toFixed(0)} req/s, ` +
      `${((after.cpuMs - before.cpuMs) / result.requests).toFixed(3)} CPU ms/request${PROFILE ? ' (profiler on)' : ''}, ` +
      `${result.errors} errors; load ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );
  const tick = 1000 / 100; // ms per clock tick (USER_HZ)
  const perRequest = (ticks: number) => ((ticks * tick) / result.requests).toFixed(3);
  for (const [thread, [user, system]] of threadsAfter) {
    const [user0, system0] = threadsBefore.get(thread) ?? [0, 0];
    if (user + system > user0 + system0)
      console.log(
        `thread ${thread}: ${perRequest(user + system - user0 - system0)} CPU ms/request ` +
          `(user ${perRequest(user - user0)}, system ${perRequest(system - system0)})`,
      );
  }
  if (!PROFILE) return;
  if (files.length === 0) throw new Error(`no profile written in ${out}: ${r.process.output().slice(-2000)}`);
  // One file per thread: the main thread's first, then the workers' (the audit writer among them).
  for (const file of files.sort()) {
    console.log(`\nprofile: ${path.join(out, file)} (measured run only)`);
    const profile = JSON.parse(readFileSync(path.join(out, file), 'utf8')) as Profile;
    console.log(topSelfTime(profile, file === files[0] ? TOP : 12, [from, to]).join('\n'));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
