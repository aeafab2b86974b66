/**
 * The composition root: config → category lists → profiles → audit store → identity → edge.
 * `serve` and the integration tests both start schoolgate through here.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { openAccessLog } from '../access-log/index.js';
import { AlertsEngine } from '../alerts/engine.js';
import {
  pgDigestStore,
  sqliteDigestStore,
  startDigests,
  type RunningDigests,
  type SchedulerClock,
} from '../alerts/digest/index.js';
import { createAlertSinks, type AlertSinks } from '../alerts/sinks/index.js';
import type { AuditOpenReport } from '../audit/index.js';
import type { ServingAuditStore } from '../audit/serving-store.js';
import { nodeName, type PostgresConfig } from '../audit/postgres/config.js';
import { newEventId } from '../audit/event-id.js';
import { NightlyPurge } from '../audit/nightly-purge.js';
import { type ReadonlyConfig } from '../config/load.js';
import { Directory } from '../identity/ldap/directory.js';
import { Identifier } from '../identity/identify.js';
import { UserStore } from '../identity/user-store.js';
import { type OffThreadOptions } from '../lists/load-off-thread.js';
import { startScheduledUpdates, type ScheduledListUpdate } from '../lists/update/schedule.js';
import { startMetrics, type LeafCounters } from '../metrics/metrics.js';
import { openServingAudit, SQLITE_ONLY } from './audit-store.js';
import { auditStoreStatus } from './status.js';
import { SIGNING_OK } from '../audit/signing-state.js';
import { checkFileModes, type ModeCheck } from './file-modes.js';
import type { ClusterRole, ControlHandlers } from './cluster/role.js';
import { startLive } from './live.js';
import { loadPolicy, logIllegalTier } from './load-policy.js';
import { startRetention } from './nightly-retention.js';
import { openPolicyReplica, type PolicyReplica } from './policy-sync/index.js';
import { claimDataDir } from './serve-lock.js';
import { readStateAddresses, type LoadedPolicy, type Reloader, type ReloadResult } from './reload.js';
import { loadHostRoutes } from '../proxy/hosts-file.js';
import { createProxyServer, type ProxyServer } from '../proxy/server.js';
import { loadOrCreateTokenKey } from '../proxy/warn-token.js';
import { openStateDatabase } from '../state/database.js';
import { UnblockRequestStore } from '../state/unblock-requests.js';
import { caStatus, loadSchoolCa, reloadSchoolCa, watchCaExpiry } from './school-ca.js';
import { startConsoleIfEnabled, type RunningConsole } from '../console/index.js';
import { decide } from '../policy/decide.js';

export interface RunningSchoolgate {
  address: AddressInfo;
  proxy: ProxyServer;
  /** SQLite's writer thread (default) or PostgreSQL (store: { postgres }), by config (audit-store.ts). */
  audit: ServingAuditStore;
  /** The SQLite audit file (on PostgreSQL: where it would be; nothing is recorded there). */
  auditPath: string;
  /** What the SQLite audit database's check at start found; null on PostgreSQL. */
  auditOpened: AuditOpenReport | null;
  /** Who is asking (its counters: status, tests). */
  identifier: Identifier;
  /** The safeguarding alerts engine and its sinks (status, tests). */
  alerts: { engine: AlertsEngine; sinks: AlertSinks; digests: RunningDigests };
  /** The nightly retention purge (audit.purgeAt); null when turned off. */
  retention: NightlyPurge | null;
  /** The web console (src/console/); null when console.enabled is false or it could not start. */
  console: RunningConsole | null;
  /** The daily `lists update` (lists.updateAt); null when turned off (the default). */
  listUpdates: ScheduledListUpdate | null;
  /** Loads config, lists and networks beside the running ones and swaps them in when complete. */
  reload(): Promise<ReloadResult>;
  /** Stops accepting, lets open exchanges finish (bounded), commits every queued audit row. */
  stop(): Promise<void>;
  /** Stops as stop() does, but cuts open requests, tunnels and WebSockets now (their outcomes are written). */
  stopNow(): Promise<void>;
}

/** The certs folder: `--certs`, else tls.certsDir (resolved against the config file's folder when loaded). */
export function certsDirOf(config: ReadonlyConfig, override?: string): string {
  return path.resolve(override ?? config.tls.certsDir);
}

/** The leaf cache's counters, read through the proxy: the TLS edge may appear at a reload (a CA fixed). */
function liveLeafCounters(proxy: ProxyServer): LeafCounters {
  return {
    get hits() {
      return proxy.tls?.leaves.hits ?? 0;
    },
    get misses() {
      return proxy.tls?.leaves.misses ?? 0;
    },
    get signed() {
      return proxy.tls?.leaves.signed ?? 0;
    },
    get cachedHosts() {
      return proxy.tls?.leaves.cachedHosts ?? 0;
    },
  };
}

export { loadPolicy } from './load-policy.js';

export function auditDbPath(dataDir: string): string {
  return path.join(dataDir, 'audit.sqlite');
}

/**
 * Owner-only data (src/app/file-modes.ts): a looser mode left by an older version is tightened, each with a
 * warning naming the file; the start goes on (a school is never left unfiltered by an upgrade).
 */
function checkStartModes(config: ReadonlyConfig, certsDir: string, logger: Logger): ModeCheck {
  const check = checkFileModes(
    { dataDir: config.dataDir, certsDir },
    {
      fix: true,
      warn: (f, message) => logger.warn({ file: f.path, mode: f.mode, to: f.to ?? null }, message),
    },
  );
  if (check.truncated)
    logger.warn({ checked: check.checked }, 'file modes: stopped checking after this many entries');
  return check;
}

type StartOptions = {
  now?: () => Date;
  reloadConfig?: () => ReadonlyConfig;
  certsDir?: string;
  /** The audit database's check at start: 'quick' (default) or 'full' (serve --integrity-check). */
  integrity?: 'quick' | 'full';
  /** serve --new-audit-database: set a refused audit database aside and start a new one. */
  newAuditDatabase?: boolean;
  /** The scheduled digests' clock (tests move a test clock); the real one by default. */
  digestClock?: SchedulerClock;
  /** Told each slow step of the start as it begins (serve prints them: a first start is never silent). */
  onProgress?: (step: string) => void;
  /** The nightly purge's clock (tests move a test clock); the real one by default. */
  purgeClock?: SchedulerClock;
  /** lists.updateAt's clock and the CLI it runs (tests); the real clock and dist/src/cli/main.js by default. */
  listUpdates?: { clock?: SchedulerClock; cli?: string };
  /** Tests: holds each list-loading worker (load-off-thread.ts) until what this returns settles. */
  holdListsWorker?: OffThreadOptions['hold'];
  /** serve --workers N: this process is the cluster's primary or one of its proxy workers (src/app/cluster/). */
  cluster?: ClusterRole;
  /** serve --node NAME: this node's name in the PostgreSQL record (overrides store.postgres.node). */
  node?: string;
};

/**
 * One proxy per data directory (serve-lock.ts): the directory is claimed before anything is loaded, and
 * released when the proxy stops or fails to start.
 */
export async function startSchoolgate(
  config: ReadonlyConfig,
  logger: Logger,
  opts: StartOptions = {},
): Promise<RunningSchoolgate> {
  // A proxy worker runs under its primary's claim.
  if (opts.cluster?.role === 'worker') return startClaimed(config, logger, opts, null);
  const lock = await claimDataDir(config.dataDir, logger);
  let replica: PolicyReplica | null = null;
  try {
    // On PostgreSQL the newest shared policy is written into the data dir before anything loads it.
    if (typeof config.store === 'object') opts.onProgress?.('syncing the shared policy from PostgreSQL');
    replica = await openPolicyReplica(config, opts.node, logger);
    const running = await startClaimed(config, logger, opts, replica);
    return {
      ...running,
      stop: () => running.stop().finally(() => lock.release()),
      stopNow: () => running.stopNow().finally(() => lock.release()),
    };
  } catch (err) {
    await replica?.close();
    lock.release();
    throw err;
  }
}

async function startClaimed(
  config: ReadonlyConfig,
  logger: Logger,
  opts: StartOptions,
  replica: PolicyReplica | null,
): Promise<RunningSchoolgate> {
  // The only reference to the loaded lists is `snapshot`, swapped whole by a reload (src/app/reload.ts);
  // each decision reads it once. Keep no other variable holding them, or a closure keeps the first load
  // alive for the life of the process (one extra copy of every list).
  const progress = opts.onProgress ?? (() => undefined);
  const fileModes = checkStartModes(config, certsDirOf(config, opts.certsDir), logger);
  progress(`loading the category lists (${config.categoriesDir})`);
  const listsOff: OffThreadOptions = opts.holdListsWorker ? { hold: opts.holdListsWorker } : {};
  let snapshot: LoadedPolicy & { loadedAt: number } = {
    ...(await loadPolicy(config, listsOff)),
    loadedAt: Date.now(),
  };
  for (const warning of snapshot.warnings.slice(0, 20)) logger.warn(warning);
  logIllegalTier(snapshot.lists.illegal, logger);
  // The directory's bind password and CA are read once here too: a missing file fails the start early.
  if (config.identity.ldap) new Directory(config.identity.ldap, config.identity.guestProfile);
  // Sinks and the access log before anything that needs closing: a missing secret file or an access log
  // that cannot be written is a configuration error at start.
  const sinks = createAlertSinks(config.alerts, { logger, timeZone: config.timeZone });
  const hostRoutes = loadHostRoutes(config.hostsFile, config.hosts);
  let accessLog: ReturnType<typeof openAccessLog>;
  try {
    accessLog = openAccessLog(config, logger, hostRoutes);
  } catch (err) {
    await sinks.close();
    throw err;
  }
  const certsDir = certsDirOf(config, opts.certsDir);
  progress(
    `loaded ${snapshot.lists.categories.size} categories (${snapshot.entries} entries); reading the school CA in ${certsDir}`,
  );
  const ca = loadSchoolCa(config, certsDir, logger);
  let caProblem = ca?.problem ?? null;
  const auditPath = auditDbPath(config.dataDir);
  progress(
    typeof config.store === 'object'
      ? 'connecting to the PostgreSQL audit store'
      : `opening and checking the audit database ${auditPath}`,
  );
  const cluster = opts.cluster;
  const opened = await openServingAudit(config, logger, {
    path: auditPath,
    integrity: opts.integrity ?? 'quick',
    newDatabase: opts.newAuditDatabase ?? false,
    ...(cluster ? { cluster } : {}),
    ...(opts.node ? { node: opts.node } : {}),
  }).catch(async (err: unknown) => {
    await sinks.close();
    await accessLog?.close();
    throw err;
  });
  const audit = opened.store;
  // The SQLite writer: the cluster's relay, the digests' report access rows; null on PostgreSQL.
  const sqliteAudit = opened.sqlite;
  const users = new UserStore(config.dataDir);
  const tokenKey = loadOrCreateTokenKey(config.dataDir);
  // The proxy's own state connection for unblock requests (written from block pages, rate-limited).
  const requestsDb = openStateDatabase(config.dataDir);
  const requests = new UnblockRequestStore(requestsDb);
  const identifier = new Identifier(config, users, readStateAddresses(config.dataDir), {
    onDirectoryOutage: (cause) =>
      logger.warn(
        { code: 'SG_DIRECTORY_UNAVAILABLE', cause },
        'directory sign-in: the directory is unreachable',
      ),
  });
  const proxy = createProxyServer({
    config,
    policy: () => snapshot,
    audit,
    identifier,
    hostRoutes,
    tokenKey,
    requests,
    logger,
    ca: ca?.signing ?? null,
    nextCa: ca?.next ?? null,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const caNow = () => caStatus(proxy, config, caProblem, opts.now?.());
  const alerts = new AlertsEngine({
    settings: config.alerts,
    categories: () => snapshot.lists.categories,
    keywords: () => snapshot.keywords,
    table: audit,
    sinks,
    logger: logger.child({ component: 'alerts' }),
    newId: newEventId,
  });
  const alertsSnapshot = () => ({ engine: alerts.stats, sinks: sinks.stats() });
  await alerts
    .restore(Date.now())
    .catch((err: unknown) =>
      logger.error({ err: String(err) }, 'alerts: could not read recent alerts; windows start empty'),
    );
  // In a cluster the alerts engine is the primary's alone (one set of windows), fed the workers' rows.
  if (cluster?.role === 'primary') alerts.subscribe(cluster.committed);
  else if (cluster?.role !== 'worker') alerts.subscribe(proxy.events);
  accessLog?.log.subscribe(proxy.events);
  // Metrics subscribe before the first request; the reloader exists once the proxy listens.
  const later: { reloader?: Reloader; console?: RunningConsole | null } = {};
  proxy.serveMetrics(
    startMetrics({
      events: proxy.events,
      stats: proxy.stats,
      auditQueueDepth: () => audit.queueDepth,
      server: proxy.server,
      leaves: config.tls.inspect ? liveLeafCounters(proxy) : null,
      ca: () => {
        const s = caNow();
        return s && { available: s.inspection, current: s.current?.notAfter, next: s.next?.notAfter };
      },
      reloads: () => later.reloader?.history ?? null,
      loadedAt: () => snapshot.loadedAt,
      alerts: alertsSnapshot,
    }),
  );
  let address: AddressInfo;
  try {
    // In a cluster the workers listen; their rows go through this process's store (SQLite or PostgreSQL).
    address = await (cluster?.role === 'primary' ? cluster.listen(audit) : proxy.listen());
  } catch (err) {
    await alerts.close();
    await sinks.close();
    await accessLog?.close();
    await audit.close();
    users.close();
    requestsDb.close();
    throw err;
  }
  // Scheduled digests (src/alerts/digest/): their own timers, started once the proxy listens; in a cluster,
  // these timers are the primary's alone.
  const timers = cluster?.role !== 'worker';
  // Digests read and record where the audit record is: the SQLite file or PostgreSQL (digest/store.ts).
  const digestStore = sqliteAudit
    ? () => sqliteDigestStore(auditPath, sqliteAudit)
    : opened.pg
      ? () =>
          pgDigestStore(
            opened.pg!,
            opts.node ?? nodeName((config.store as { postgres: PostgresConfig }).postgres),
          )
      : null;
  const digests: RunningDigests =
    timers && digestStore
      ? startDigests({
          settings: config.alerts,
          timeZone: config.timeZone,
          openStore: digestStore,
          categories: () => snapshot.lists.categories,
          logger,
          ...(opts.digestClock ? { clock: opts.digestClock } : {}),
        })
      : { scheduler: null, stop: async () => {} };
  const retention =
    timers && (sqliteAudit || opened.purge)
      ? startRetention(config, auditPath, () => snapshot.config, logger, opts.purgeClock, opened.purge)
      : null;
  const listUpdates = timers ? startScheduledUpdates(config, logger, opts.listUpdates) : null;
  const live = await startLive({
    config,
    reloadConfig: opts.reloadConfig ?? (() => config),
    loadPolicy: (c) => loadPolicy(c, listsOff),
    proxy,
    address,
    auditPath,
    auditOpened: opened.opened,
    auditQueueDepth: () => audit.queueDepth,
    ...(audit.signing ? { auditSigning: () => audit.signing ?? SIGNING_OK } : {}),
    auditStore: () => auditStoreStatus(audit, sqliteAudit ? [] : SQLITE_ONLY),
    identifier,
    current: () => snapshot,
    swap: (next) => (snapshot = next),
    logger,
    alerts: alertsSnapshot,
    ca: caNow,
    reloadCa: () => {
      const { note, problem } = reloadSchoolCa(proxy, config, certsDir, logger);
      caProblem = problem;
      return note;
    },
    fileModes: { certsDir: certsDirOf(config, opts.certsDir), atStart: fileModes },
    consoleDirectory: () => later.console?.directoryStatus() ?? null,
    ...(replica
      ? {
          policySync: {
            beforeReload: () => replica.beforeReload(),
            status: () => replica.status(),
            handlers: {
              'policy-edit-begin': (args) =>
                replica.beginEdit(typeof args.holdMs === 'number' ? args.holdMs : undefined),
              'policy-edit-publish': () => replica.publishEdit(),
            },
          },
        }
      : {}),
    ...(cluster
      ? {
          control:
            cluster.role === 'primary'
              ? { socket: true as const, wrap: (own: ControlHandlers) => cluster.control(own) }
              : { socket: false as const },
        }
      : {}),
  });
  const caWatch = watchCaExpiry(proxy, logger, opts.now);
  later.reloader = live.reloader;
  live.reloader.watch({ current: () => snapshot, logger });
  replica?.startFollowing(() => live.reloader.reload());
  if (cluster?.role === 'worker') cluster.serving(proxy, live.handlers, address, audit);
  // In a cluster the console is the primary's (one listener; its reloads reach every worker).
  const webConsole =
    cluster?.role === 'worker'
      ? null
      : await startConsoleIfEnabled({
          config,
          certsDir,
          logger,
          reload: () => live.reloader.reload(),
          match: (target) => snapshot.lists.match(target),
          decide: (target, name) => {
            const profile = snapshot.profiles.get(name);
            return profile
              ? decide({ target, method: 'GET', user: null }, profile, snapshot.lists, new Date())
              : null;
          },
        });
  later.console = webConsole;
  let stopping: Promise<void> | undefined;
  let hurried = false;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      caWatch.stop();
      await webConsole?.close();
      await live.close();
      await replica?.close();
      // The workers' last rows go through this process's writer: they stop before it closes.
      if (cluster?.role === 'primary') await cluster.stopWorkers(hurried);
      await proxy.close();
      // After the proxy: the last exchanges' events may still raise alerts.
      await new Promise((resolve) => setImmediate(resolve));
      await alerts.close();
      await accessLog?.close();
      await digests.stop(); // before the audit store: a digest being sent is still recorded
      await retention?.stop();
      listUpdates?.stop();
      await sinks.close();
      await audit.close();
      users.close();
      requestsDb.close();
    })());
  return {
    address,
    proxy,
    audit,
    auditPath,
    auditOpened: opened.opened,
    identifier,
    alerts: { engine: alerts, sinks, digests },
    retention,
    console: webConsole,
    listUpdates,
    reload: () => live.reloader.reload(),
    stop,
    stopNow: () => {
      hurried = true;
      const stopped = stop();
      proxy.hurry();
      return stopped;
    },
  };
}
