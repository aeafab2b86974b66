/**
 * What the control socket answers: `status`, `reload`, `decide` (selftest's view of the live policy),
 * `selftest-begin`/`selftest-end` (the run its probes' rows are marked with) and `users-changed`.
 */
import { statSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { AuditOpenReport } from '../audit/index.js';
import type { NodeSeen } from '../audit/postgres/nodes.js';
import type { AuditStoreFailure, AuditStoreWhere, ServingAuditStore } from '../audit/serving-store.js';
import type { SigningState } from '../audit/signing-state.js';
import type { ConfigLocation } from '../config/location.js';
import type { ConsoleDirectoryStatus } from '../console/directory-sign-in.js';
import { SchoolgateError } from '../errors.js';
import { decide } from '../policy/decide.js';
import type { IllegalTier } from '../policy/illegal-tier.js';
import { parseAbsoluteTarget } from '../policy/target.js';
import type { SelftestProbes } from '../exchange/selftest-probes.js';
import type { PolicySnapshot } from '../exchange/snapshot.js';
import type { AuthCounters } from '../identity/identify-types.js';
import type { AlertsSnapshot } from '../metrics/metrics.js';
import type { ControlHandler } from './control.js';
import { checkFileModes, type ModeCheck } from './file-modes.js';
import { identityModes, type IdentityModes } from '../identity/modes.js';
import { readStateAddresses, type ReloadOutcome, type Reloader } from './reload.js';
import type { PolicySyncStatus } from './policy-sync/replica.js';
import type { CaStatus } from './school-ca.js';

export interface StatusDeps {
  dataDir: string;
  auditPath: string;
  /** Null on PostgreSQL (no SQLite check at start). */
  auditOpened: AuditOpenReport | null;
  startedAt: number;
  address: { address: string; port: number };
  server: http.Server;
  stats: { requests: number; tunnels: number; openTunnels: number };
  auditQueueDepth: () => number;
  policy: () => PolicySnapshot & { entries: number; loadedAt: number };
  reloader: Reloader;
  alerts?: () => AlertsSnapshot;
  /** The school CA's state (null when inspection is off). */
  ca?: () => CaStatus | null;
  fileModes?: { certsDir: string; atStart: ModeCheck };
  /** The profile the proxy gives a client at this address with no credentials. */
  profileFor: (clientIp: string) => Promise<string | null>;
  /** Re-reads the users now, closing revoked users' connections; how many users were revoked. */
  pollUsers?: () => number;
  /** The config file the proxy was started with (or the embedded defaults). */
  config?: ConfigLocation;
  /** The open selftest runs (src/exchange/selftest-probes.ts). */
  probes?: SelftestProbes;
  /** Directory sign-in's counters (null when identity.ldap is off). */
  directory?: () => AuthCounters['directory'];
  /** Whether the audit writer signs checkpoints (src/audit/signing-state.ts). */
  auditSigning?: () => SigningState;
  /** The console's directory sign-in (null: no console, or console.directory not set). */
  consoleDirectory?: () => ConsoleDirectoryStatus | null;
  /** Where the record is kept and whether it can be written now. */
  auditStore?: () => Promise<AuditStoreStatus>;
  /** store: { postgres }: the shared policy version this node runs (src/app/policy-sync/). */
  policySync?: () => Promise<PolicySyncStatus>;
}

export interface StatusReport {
  running: true;
  pid: number;
  since: string;
  uptimeSeconds: number;
  listen: string;
  /** Which config file is in use (absent from a proxy older than this field). */
  config?: ConfigLocation;
  connections: number;
  openTunnels: number;
  requests: number;
  requestsPerSecond: number;
  lists: { categories: number; entries: number; profiles: number; loadedAt: string };
  reloads: {
    count: number;
    failures: number;
    lastError: string | null;
    lastMs: number;
    /** The last reload's result: applied, or refused with its SG code (null before the first). */
    last: ReloadOutcome | null;
  };
  auditQueueDepth: number;
  databaseBytes: { audit: number; state: number };
  /** Safeguarding alerts: raised, counted, store failures, and each sink's deliveries and dead letters. */
  alerts: (AlertsSnapshot & { deadLetters: number }) | null;
  /** Owner-only data (file-modes.ts): what the start tightened, and what is looser than owner-only now. */
  fileModes: { atStart: ModeCheck | null; now: ModeCheck };
  /** The school CA: expiry, days left, a staged next CA, and whether inspection can run (null when off). */
  ca: CaStatus | null;
  /** The SQLite audit database's check at start; null when the record is on PostgreSQL. */
  auditDatabase: AuditDatabaseStatus | null;
  /** Where the record is kept (sqlite path, or postgres server and node) and whether it can be written now. */
  auditStore?: AuditStoreStatus;
  /** How clients are identified: Basic auth on/off, address mappings, the guest profile. */
  identity: IdentityModes;
  /** Directory sign-in: user binds, cache hits, outages, and whether sign-ins get onOutage now. */
  directory: AuthCounters['directory'];
  /** The illegal-content tier in force: loaded (files, entries), none (no provider files), unusable (all blocked). */
  illegalTier: IllegalTierStatus;
  /** Console sign-in through the directory: ok, or unavailable since the first refused sign-in (null: not set). */
  consoleDirectory?: ConsoleDirectoryStatus | null;
  /** Signed checkpoints of the audit record: ok, or failing with SG_AUDIT_SIGNING_FAILED (absent: older proxy). */
  auditSigning?: SigningState;
  /** store: { postgres }: the policy version this node runs, when applied, sync failures and conflicts. */
  policy?: PolicySyncStatus;
  /** serve --workers N (N > 1): each proxy worker; requests and connections above are their sum. */
  workers?: ClusterWorkerStatus[];
  /** Proxy workers that died and were replaced since the start. */
  workerRestarts?: number;
}

/** Where the record is kept, whether rows are being committed now, and what is off on this store. */
export type AuditStoreStatus = AuditStoreWhere & {
  /** Null while commits succeed; else requests are refused with the code (fail closed) since sinceMs. */
  failure: AuditStoreFailure | null;
  /** Features of the SQLite store that are off on this one (empty on SQLite). */
  off: string[];
  /** PostgreSQL: every node sharing the record and how long ago it was last seen; the error when unreadable. */
  nodes?: NodeSeen[] | { error: string };
};

export async function auditStoreStatus(
  store: ServingAuditStore,
  off: readonly string[],
): Promise<AuditStoreStatus> {
  const status: AuditStoreStatus = { ...store.where, failure: store.failure, off: [...off] };
  if (store.nodes)
    status.nodes = await store.nodes().catch((err: unknown) => ({
      error: err instanceof Error ? err.message : String(err),
    }));
  return status;
}

export interface ClusterWorkerStatus {
  pid: number;
  /** It answered, and its link to the audit writer is up. */
  healthy: boolean;
  requests: number;
  connections: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Why it did not answer `status`; null when it did. */
  error: string | null;
}

export interface IllegalTierStatus {
  state: 'loaded' | 'none' | 'unusable';
  sources: { name: string; entries: number; hashed: number }[];
  code: string | null;
  message: string | null;
}

export function illegalTierStatus(tier: IllegalTier | undefined): IllegalTierStatus {
  if (tier === undefined) return { state: 'none', sources: [], code: null, message: null };
  const sources = tier.sources.map((s) => ({ ...s }));
  return tier.state === 'unusable'
    ? { state: 'unusable', sources, code: tier.code, message: tier.message }
    : { state: tier.state, sources, code: null, message: null };
}

/** What the audit database's check at start found, and whether this database replaced a refused one. */
export interface AuditDatabaseStatus {
  path: string;
  headFile: string;
  /** The check run at start; null when this start created the database. */
  checked: { mode: 'quick' | 'full'; ms: number; recordedHeadSeq: number | null } | null;
  created: 'missing' | 'zero-length' | null;
  /** The refused database this one replaced (`serve --new-audit-database`), kept across restarts. */
  replaced: { at: string; folder: string; files: string[]; code: string; reason: string } | null;
  /** The replacement happened at this start. */
  replacedAtThisStart: boolean;
}

export function auditDatabaseStatus(r: AuditOpenReport): AuditDatabaseStatus {
  return {
    path: r.path,
    headFile: r.headFile,
    checked: r.check && {
      mode: r.check.mode,
      ms: r.check.checkMs,
      recordedHeadSeq: r.check.recorded?.seq ?? null,
    },
    created: r.created,
    replaced: r.replaced && {
      at: new Date(r.replaced.atMs).toISOString(),
      folder: r.replaced.folder,
      files: r.replaced.files,
      code: r.replaced.code,
      reason: r.replaced.reason,
    },
    replacedAtThisStart: r.setAside !== null,
  };
}

/** Samples request counts once a second; requests/s is over the last ten seconds. */
export function startRateSampler(stats: { requests: number; tunnels: number }): {
  rate(): number;
  stop(): void;
} {
  const samples: { t: number; n: number }[] = [{ t: Date.now(), n: stats.requests + stats.tunnels }];
  const timer = setInterval(() => {
    samples.push({ t: Date.now(), n: stats.requests + stats.tunnels });
    if (samples.length > 11) samples.shift();
  }, 1_000);
  timer.unref();
  return {
    rate() {
      const first = samples[0]!;
      const now = { t: Date.now(), n: stats.requests + stats.tunnels };
      const seconds = (now.t - first.t) / 1000;
      return seconds > 0 ? Math.round(((now.n - first.n) / seconds) * 10) / 10 : 0;
    },
    stop: () => clearInterval(timer),
  };
}

function alertsStatus(read: StatusDeps['alerts']): StatusReport['alerts'] {
  if (!read) return null;
  const { engine, sinks } = read();
  const deadLetters = Object.values(sinks).reduce((n, s) => n + s.deadLetters, 0);
  return { engine, sinks, deadLetters };
}

function fileBytes(file: string): number {
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += statSync(f).size;
    } catch {
      // absent
    }
  }
  return total;
}

export function controlHandlers(deps: StatusDeps, rate: () => number): Record<string, ControlHandler> {
  return {
    status: async (): Promise<StatusReport> => {
      const connections = await new Promise<number>((resolve) =>
        deps.server.getConnections((err, n) => resolve(err ? 0 : n)),
      );
      const p = deps.policy();
      const h = deps.reloader.history;
      return {
        running: true,
        pid: process.pid,
        since: new Date(deps.startedAt).toISOString(),
        uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
        listen: `${deps.address.address}:${deps.address.port}`,
        config: deps.config ?? { file: null, source: 'built-in' },
        connections,
        openTunnels: deps.stats.openTunnels,
        requests: deps.stats.requests + deps.stats.tunnels,
        requestsPerSecond: rate(),
        lists: {
          categories: p.lists.categories.size,
          entries: p.entries,
          profiles: p.profiles.size,
          loadedAt: new Date(p.loadedAt).toISOString(),
        },
        reloads: {
          count: h.reloads,
          failures: h.failures,
          lastError: h.lastError,
          lastMs: Math.round(h.lastMs),
          last: h.last,
        },
        auditQueueDepth: deps.auditQueueDepth(),
        databaseBytes: {
          audit: fileBytes(deps.auditPath),
          state: fileBytes(path.join(deps.dataDir, 'state.sqlite')),
        },
        alerts: alertsStatus(deps.alerts),
        auditDatabase: deps.auditOpened && auditDatabaseStatus(deps.auditOpened),
        ...(deps.auditStore ? { auditStore: await deps.auditStore() } : {}),
        ...(deps.policySync ? { policy: await deps.policySync() } : {}),
        identity: identityModes(p.config, readStateAddresses(deps.dataDir)),
        ca: deps.ca?.() ?? null,
        illegalTier: illegalTierStatus(p.lists.illegal),
        directory: deps.directory?.() ?? null,
        consoleDirectory: deps.consoleDirectory?.() ?? null,
        ...(deps.auditSigning ? { auditSigning: deps.auditSigning() } : {}),
        fileModes: {
          atStart: deps.fileModes?.atStart ?? null,
          now: checkFileModes(
            { dataDir: deps.dataDir, certsDir: deps.fileModes?.certsDir ?? null },
            { fix: false },
          ),
        },
      };
    },
    reload: (args) => deps.reloader.reload({ force: args.force === true }),
    /** The live policy's decisions for URLs under one profile (selftest compares the proxy with these). */
    decide: (args) => {
      const profileName = String(args.profile ?? '');
      const urls = Array.isArray(args.urls) ? args.urls.map(String) : [];
      const p = deps.policy();
      const profile = p.profiles.get(profileName);
      if (!profile)
        throw new SchoolgateError('SG_PROFILE_UNKNOWN', `no profile named "${profileName}"`, {
          suggestion: `use one of: ${[...p.profiles.keys()].join(', ')}`,
        });
      const now = new Date();
      return urls.map((url) => {
        const d = decide({ target: parseAbsoluteTarget(url), method: 'GET' }, profile, p.lists, now);
        return {
          url,
          action: d.action,
          categories: d.categories,
          rule: d.rule.kind,
          explanation: d.explanation,
        };
      });
    },
    profiles: () => [...deps.policy().profiles.keys()],
    whoami: async (args) => ({ profile: await deps.profileFor(String(args.ip ?? '127.0.0.1')) }),
    /** `selftest` begins a run: its probes send the token and their audit rows are marked with the run. */
    'selftest-begin': () => {
      if (!deps.probes) throw new SchoolgateError('SG_ARGUMENT_INVALID', 'this proxy takes no selftest runs');
      return deps.probes.begin();
    },
    'selftest-end': (args) => ({ ended: deps.probes?.end(String(args.token ?? '')) ?? false }),
    /** Sent by `users disable`, `remove`, `passwd` and `import`: revoked users lose their open connections now. */
    'users-changed': () => ({ revoked: deps.pollUsers?.() ?? 0 }),
  };
}
