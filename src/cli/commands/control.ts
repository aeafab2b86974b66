/** `schoolgate reload`, `status` and `changes`: talking to the running proxy, and the admin-changes record. */
import type { Command } from 'commander';
import { controlRequest } from '../../app/control.js';
import { reloadRunning } from '../../app/reload-record.js';
import type { AuditDatabaseStatus, StatusReport } from '../../app/status.js';
import type { NodeSeen } from '../../audit/postgres/nodes.js';
import { describeLocation } from '../../config/location.js';
import { identityModeLine } from '../../identity/modes.js';
import { SchoolgateError } from '../../errors.js';
import { withState } from '../../state/store.js';
import {
  configFrom,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';

type Opts = CommonOptions & { json?: boolean; force?: boolean };

export function registerControl(program: Command): void {
  withChangeOptions(withCommonOptions(program.command('reload')))
    .description('make the running proxy load lists, networks and config again without dropping connections')
    .option('--json', 'JSON output')
    .option(
      '--force',
      'apply even though a category loses more than lists.maxShrinkShare of its entries (never a broken file)',
    )
    .addHelpText(
      'after',
      '\nThe new lists are loaded beside the old ones and swapped in only when complete; if a file is broken\n(not text, or more invalid lines than lists.maxInvalidLines/maxInvalidShare allow) or a category\nwould shrink by more than lists.maxShrinkShare, the old lists keep serving, this command says what is\nwrong and exits 1. `lists`, `networks` and `devices` changes reload by themselves. SIGHUP to the serve\nprocess does the same.\n\nExamples:\n  schoolgate reload --data /var/lib/schoolgate\n  schoolgate reload --force --reason "UT1 dropped dead domains from gambling"',
    )
    .action(async (opts: Opts & ChangeOptions) => {
      const config = configFrom(opts);
      const r = await reloadRunning(config, opts);
      if (opts.json) return void console.log(JSON.stringify(r));
      console.log(
        `reloaded in ${r.ms} ms: ${r.categories} categories, ${r.entries} entries, ${r.profiles} profiles`,
      );
      for (const s of r.forcedShrink)
        console.log(`forced: category ${s.category} shrank from ${s.before} to ${s.after} shipped entries`);
      for (const w of r.warnings) console.log(`warning: ${w}`);
      if (r.ca) console.log(r.ca);
      if (r.restartNeeded.length > 0)
        console.log(`note: changed settings that need a restart to apply: ${r.restartNeeded.join(', ')}`);
    });

  withCommonOptions(program.command('status'))
    .description(
      'is the proxy running, since when, connections, requests/s, lists, audit queue, database size',
    )
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate status\n  schoolgate status --json | jq .requestsPerSecond',
    )
    .action(async (opts: Opts) => {
      const s = await controlRequest<StatusReport>(configFrom(opts).dataDir, 'status');
      if (opts.json) return void console.log(JSON.stringify(s));
      console.log(statusLines(s).join('\n'));
    });

  withCommonOptions(program.command('changes'))
    .description('the admin-changes record: every change made through the CLI')
    .option(
      '--since <time>',
      'only changes at or after this time (ISO 8601 date or date-time, or e.g. 7d, 12h)',
    )
    .option('--action <prefix>', 'only actions starting with this, e.g. lists or users.disable')
    .option('--json', 'JSON output')
    .option('--verify', 'check the record’s hash chain instead; exits 1 at the first change that breaks it')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate changes --since 2026-09-01\n  schoolgate changes --since 7d --action lists --json\n  schoolgate changes --verify',
    )
    .action(async (opts: Opts & { since?: string; action?: string; verify?: boolean }) => {
      if (opts.verify) return verifyChangesCommand(configFrom(opts).dataDir, opts.json === true);
      const since = opts.since ? parseSince(opts.since) : undefined;
      const rows = await withState(configFrom(opts).dataDir, (s) =>
        s.changes.list({ ...(since ? { since } : {}), ...(opts.action ? { action: opts.action } : {}) }),
      );
      if (opts.json) return void console.log(JSON.stringify(rows));
      if (rows.length === 0) return void console.log('no changes recorded');
      for (const r of rows) {
        const who = r.by ? `${r.by} (as ${r.osUser})` : r.osUser;
        console.log(`${r.at}  ${who.padEnd(20)} ${r.action.padEnd(16)} ${r.target}`);
        if (r.before !== null || r.after !== null)
          console.log(`    before: ${JSON.stringify(r.before)}  after: ${JSON.stringify(r.after)}`);
        if (r.reason) console.log(`    reason: ${r.reason}`);
      }
    });
}

/** `schoolgate status` as lines of text (the CLI prints them; the console's status page shows the same). */
export function statusLines(s: StatusReport): string[] {
  const mb = (n: number) => `${(n / 1_048_576).toFixed(1)} MiB`;
  return [
    `running        yes (pid ${s.pid}) on ${s.listen}`,
    `since          ${s.since} (${s.uptimeSeconds} s)`,
    ...(s.config ? [`config         ${describeLocation(s.config)}`] : []),
    `connections    ${s.connections} open (${s.openTunnels} tunnels)`,
    `requests       ${s.requests} total, ${s.requestsPerSecond}/s over the last 10 s`,
    ...workerLines(s, mb),
    `identity       ${identityModeLine(s.identity)}`,
    `lists          ${s.lists.categories} categories, ${s.lists.entries} entries, ${s.lists.profiles} profiles (loaded ${s.lists.loadedAt})`,
    `reloads        ${s.reloads.count} (${s.reloads.failures} failed)`,
    ...(s.reloads.last
      ? [
          `last reload    ${s.reloads.last.ok ? 'applied' : `REFUSED ${s.reloads.last.code ?? ''}`.trim()}${s.reloads.last.forced ? ' (forced)' : ''} at ${s.reloads.last.at}: ${s.reloads.last.message}`,
        ]
      : []),
    `audit queue    ${s.auditQueueDepth} rows waiting`,
    `databases      audit ${mb(s.databaseBytes.audit)}, state ${mb(s.databaseBytes.state)}`,
    ...caLines(s.ca),
    illegalTierLine(s.illegalTier),
    ...directoryLines(s.directory),
    ...consoleDirectoryLines(s.consoleDirectory),
    ...alertLines(s.alerts),
    ...auditStoreLines(s.auditStore),
    ...policyLines(s.policy),
    ...(s.auditDatabase ? auditDatabaseLines(s.auditDatabase) : []),
    ...auditSigningLines(s.auditSigning),
    ...fileModeLines(s.fileModes),
  ];
}

/** store: { postgres }: the shared policy version this node runs (none on SQLite or an older proxy). */
function policyLines(p: StatusReport['policy']): string[] {
  if (!p) return [];
  const running =
    p.version === 0
      ? 'no shared version yet'
      : `version ${p.version} from node ${p.from ?? '?'}, applied ${p.appliedAt ?? '?'}`;
  return [
    `policy         ${running}${p.listening ? '' : ' (not listening: polling every 10 s)'}`,
    ...(p.failure
      ? [
          `  FAILING (${p.failure.code}) since ${p.failure.since}: ${p.failure.message}; the policy in force keeps filtering`,
        ]
      : []),
    ...(p.lastConflict
      ? [`  last conflict ${p.lastConflict.at} (${p.lastConflict.code}): ${p.lastConflict.message}`]
      : []),
    ...(p.nodes?.nodes ?? []).map(
      (n) =>
        `  node ${n.node === p.node ? `${n.node} (this node)` : n.node}: version ${n.version}${n.behind ? `, BEHIND (newest ${p.nodes!.newest})` : ', up to date'}, applied ${n.appliedAt}`,
    ),
  ];
}

/** serve --workers N: one line per proxy worker (none for the single process). */
function workerLines(s: StatusReport, mb: (n: number) => string): string[] {
  if (!s.workers) return [];
  return [
    `workers        ${s.workers.length} proxy processes, ${s.workerRestarts ?? 0} restarted since the start`,
    ...s.workers.map(
      (w) =>
        `  pid ${w.pid}`.padEnd(15) +
        (w.error
          ? `NOT ANSWERING: ${w.error}`
          : `${w.healthy ? 'ok' : 'AUDIT UNAVAILABLE'}, ${w.requests} requests, ${w.connections} connections, ${mb(w.rssBytes)} RSS`),
    ),
  ];
}

/** `changes --verify`: walks the admin-changes chain (src/state/change-chain.ts). */
async function verifyChangesCommand(dataDir: string, json: boolean): Promise<void> {
  const { verifyChanges } = await import('../../state/change-chain.js');
  const result = await withState(dataDir, (s) => verifyChanges(s.db));
  if (json) console.log(JSON.stringify(result));
  else if (result.ok)
    console.log(
      `ok: ${result.rows} changes chained` +
        (result.head ? `; head change ${result.head.id} ${result.head.hash}` : ''),
    );
  if (!result.ok)
    throw new SchoolgateError(
      'SG_AUDIT_TAMPERED',
      `the admin-changes record is broken at change ${result.firstBreak!.id}: ${result.firstBreak!.reason}`,
      {
        context: { ...result.firstBreak, changesVerified: result.rows },
        suggestion:
          'keep a copy of state.sqlite as it is now (evidence), compare it with the last good backup, and tell the headteacher',
      },
    );
}

/** The school CA lines of `status`: expiry and days left, a staged next CA; an unusable CA said loudly. */
function directoryLines(d: StatusReport['directory'] | undefined): string[] {
  if (!d) return [];
  const state = d.down ? 'DOWN (sign-ins not cached get onOutage, SG_DIRECTORY_UNAVAILABLE)' : 'up';
  const last = d.lastOutage
    ? `; last outage ${new Date(d.lastOutage.at).toISOString()}: ${d.lastOutage.cause}`
    : '';
  return [
    `directory      ${state}: ${d.userBinds} binds, ${d.cacheHits} cache hits, ${d.outages} outages${last}`,
  ];
}

/** Console sign-in through the directory (none when console.directory is not set, or an older proxy). */
function consoleDirectoryLines(d: StatusReport['consoleDirectory']): string[] {
  if (!d) return [];
  return [
    d.state === 'ok'
      ? 'console directory ok'
      : `console directory UNAVAILABLE since ${d.since} (${d.code}): directory sign-ins are refused; local accounts work`,
  ];
}

function caLines(ca: StatusReport['ca']): string[] {
  if (!ca) return ['school CA      HTTPS inspection off'];
  const lines: string[] = [];
  if (!ca.inspection)
    lines.push(`school CA      UNUSABLE: inspected HTTPS is REFUSED (SG_CA_UNUSABLE): ${ca.problem ?? '?'}`);
  if (ca.current) {
    const left = ca.current.daysLeft;
    const when = `${ca.current.notAfter.slice(0, 10)} (${left < 0 ? `${-left} days ago` : `${left} days left`})`;
    lines.push(
      `school CA      ${left < 0 ? 'EXPIRED' : ca.expiringSoon ? 'EXPIRES SOON' : 'expires'} ${when}${ca.expiringSoon && !ca.next ? ': run `schoolgate ca renew`' : ''}`,
    );
  }
  lines.push(
    ca.next
      ? `next CA        staged, expires ${ca.next.notAfter.slice(0, 10)}: install /ca-next.crt on devices, then \`schoolgate ca renew --activate\``
      : 'next CA        none staged',
  );
  return lines;
}

/** The illegal-content tier: its files and entries; none loaded and unusable said loudly. */
function illegalTierLine(t: StatusReport['illegalTier'] | undefined): string {
  if (!t || t.state === 'none')
    return 'illegal tier   NO PROVIDER FILES LOADED (IWF, CTIRU): see README "The illegal-content tier"';
  if (t.state === 'unusable')
    return `illegal tier   UNUSABLE: EVERY request is BLOCKED (${t.code}): ${t.message}`;
  const files = t.sources.map(
    (s) => `${s.name} ${s.entries} entries${s.hashed ? ` (${s.hashed} hashed)` : ''}`,
  );
  return `illegal tier   loaded: ${files.join(', ')}`;
}

/** The alerts lines of `status`: what was raised, and each sink's deliveries; dead letters said loudly. */
function alertLines(a: StatusReport['alerts']): string[] {
  if (!a) return [];
  const r = a.engine.raised;
  const lines = [
    `alerts         ${r.danger} danger, ${r.warning} warning, ${r.advisory} advisory raised; ${a.engine.counted} repeats counted${a.engine.writeFailures ? `; ${a.engine.writeFailures} NOT STORED` : ''}`,
  ];
  for (const [name, s] of Object.entries(a.sinks)) {
    const dead = s.deadLetters ? `, ${s.deadLetters} DEAD LETTERS` : '';
    const last = s.lastError ? ` (last error: ${s.lastError})` : '';
    lines.push(`  sink ${name.padEnd(8)} ${s.delivered} delivered, ${s.queued} queued${dead}${last}`);
  }
  return lines;
}

export function parseSince(value: string): Date {
  const rel = /^(\d+)([dhm])$/.exec(value);
  if (rel) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[rel[2] as 'd' | 'h' | 'm'];
    return new Date(Date.now() - Number(rel[1]) * unit);
  }
  const t = new Date(value);
  if (Number.isNaN(t.getTime()))
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `--since: "${value}" is not a date, date-time or age`, {
      suggestion: 'use 2026-09-01, 2026-09-01T08:00:00Z, 7d, 12h or 30m',
    });
  return t;
}

function auditDatabaseLines(a: AuditDatabaseStatus): string[] {
  const c = a.checked;
  const lines = [
    `audit check    ${
      c
        ? `${c.mode}_check ok in ${c.ms} ms at start; ${c.recordedHeadSeq === null ? 'no head recorded before' : `recorded head seq ${c.recordedHeadSeq} found`}`
        : `none: the database was created at this start (${a.created ?? 'new'})`
    }`,
  ];
  if (a.replaced)
    lines.push(
      `audit replaced ${a.replacedAtThisStart ? 'AT THIS START' : `on ${a.replaced.at}`}: the refused database (${a.replaced.code}: ${a.replaced.reason}) was moved to ${a.replaced.folder}`,
    );
  return lines;
}

/** Where the record is kept and whether rows are committed now; absent from an older proxy's answer. */
function auditStoreLines(a: StatusReport['auditStore']): string[] {
  if (!a) return [];
  const where = a.kind === 'sqlite' ? `sqlite ${a.path}` : `postgres ${a.server} node ${a.node}`;
  const state = a.failure
    ? `FAILING (${a.failure.code}) since ${new Date(a.failure.sinceMs).toISOString()}: ${a.failure.message}`
    : 'ok';
  const lines = [`audit store    ${where}: ${state}`];
  if (a.off.length > 0) lines.push(`  off here     ${a.off.join(', ')} (SQLite only)`);
  if (a.nodes && 'error' in a.nodes) lines.push(`  nodes        UNKNOWN: ${a.nodes.error}`);
  else if (a.nodes) lines.push(...a.nodes.map((n) => nodeLine(n, a.kind === 'postgres' ? a.node : null)));
  return lines;
}

/** One node sharing the record: how long ago it was last seen, and since when it runs. */
function nodeLine(n: NodeSeen, self: string | null): string {
  const age = n.ageMs < 120_000 ? `${Math.round(n.ageMs / 1000)} s` : `${Math.round(n.ageMs / 60_000)} min`;
  const name = n.name === self ? `${n.name} (this node)` : n.name;
  return `  node ${name}: last seen ${age} ago, started ${new Date(n.startedMs).toISOString()}`;
}

/** Whether the writer signs checkpoints; absent from an older proxy's answer. */
function auditSigningLines(a: StatusReport['auditSigning']): string[] {
  if (!a) return [];
  if (a.state === 'ok') return ['audit signing  ok (checkpoints signed each minute the record moves)'];
  return [`audit signing  FAILING (${a.code}) since ${new Date(a.sinceMs).toISOString()}: ${a.message}`];
}

/** The file-modes lines of `status`: owner-only, or each looser entry by name (src/app/file-modes.ts). */
function fileModeLines(m: StatusReport['fileModes'] | undefined): string[] {
  if (!m) return [];
  const tightened = m.atStart?.loose.filter((f) => f.action === 'tightened').length ?? 0;
  const atStart = tightened > 0 ? `; ${tightened} tightened at start (see the log)` : '';
  if (m.now.loose.length === 0)
    return [`file modes     owner-only (${m.now.checked} files and folders checked${atStart})`];
  return [
    `file modes     ${m.now.loose.length} LOOSER THAN OWNER-ONLY${atStart}:`,
    ...m.now.loose.map((f) => `  ${f.mode} ${f.path}`),
  ];
}
