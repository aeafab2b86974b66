/**
 * The composition root: config → category lists → profiles → audit store → identity → edge.
 * `serve` and the integration tests both start schoolgate through here.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { AlertsEngine } from '../alerts/engine.js';
import { startDigests, type RunningDigests, type SchedulerClock } from '../alerts/digest/index.js';
import { createAlertSinks, type AlertSinks } from '../alerts/sinks/index.js';
import { WorkerAuditStore } from '../audit/index.js';
import { newEventId } from '../audit/event-id.js';
import {
  compileKeywords,
  keywordsLocalDir,
  loadKeywordLists,
  type LoadedKeywords,
} from '../alerts/keywords/index.js';
import { PACKAGE_ROOT, type ReadonlyConfig } from '../config/load.js';
import { buildProfiles } from '../config/profiles.js';
import { Identifier } from '../identity/identify.js';
import { UserStore } from '../identity/user-store.js';
import { loadCategories, shippedSize } from '../lists/load.js';
import { readExceptions, withExceptions } from '../lists/exceptions.js';
import { readLocalLayer } from '../lists/local-layer.js';
import { startMetrics, type LeafCounters } from '../metrics/metrics.js';
import { checkFileModes, type ModeCheck } from './file-modes.js';
import { startLive } from './live.js';
import { claimDataDir } from './serve-lock.js';
import { readStateAddresses, type LoadedPolicy, type Reloader, type ReloadResult } from './reload.js';
import { loadHostRoutes } from '../proxy/hosts-file.js';
import { createProxyServer, type ProxyServer } from '../proxy/server.js';
import { loadOrCreateTokenKey } from '../proxy/warn-token.js';
import { caStatus, loadSchoolCa, reloadSchoolCa, watchCaExpiry } from './school-ca.js';

export interface RunningSchoolgate {
  address: AddressInfo;
  proxy: ProxyServer;
  audit: WorkerAuditStore;
  auditPath: string;
  /** Who is asking (its counters: status, tests). */
  identifier: Identifier;
  /** The safeguarding alerts engine and its sinks (status, tests). */
  alerts: { engine: AlertsEngine; sinks: AlertSinks; digests: RunningDigests };
  /** Loads config, lists and networks beside the running ones and swaps them in when complete. */
  reload(): Promise<ReloadResult>;
  /** Stops accepting, lets open exchanges finish (bounded), commits every queued audit row. */
  stop(): Promise<void>;
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

export function auditDbPath(dataDir: string): string {
  return path.join(dataDir, 'audit.sqlite');
}

/** Shipped category lists with the school's local layer above them (src/lists/local-layer.ts). */
export async function loadPolicy(config: ReadonlyConfig): Promise<LoadedPolicy> {
  const loaded = await loadCategories(config.categoriesDir, {
    local: await readLocalLayer(config.dataDir),
    limits: config.lists,
  });
  let entries = 0;
  for (const c of loaded.counts.values()) entries += c.domains + c.urls;
  const exceptions = await readExceptions(config.dataDir);
  const keywords = await loadKeywords(config);
  for (const w of keywords.warnings) loaded.warnings.push(w);
  return {
    keywords: compileKeywords(keywords.lists),
    config,
    lists: loaded.lists,
    profiles: withExceptions(buildProfiles(config, loaded.lists), exceptions, loaded.warnings),
    warnings: loaded.warnings,
    entries,
    shippedSizes: new Map([...loaded.counts].map(([name, c]) => [name, shippedSize(c)])),
  };
}

/**
 * The keyword lists: `<categoriesDir>/keywords` when the school's categories folder has one, else the
 * lists shipped with schoolgate (a categories folder of the school's own still gets alerts); the local
 * layer (`<dataDir>/keywords.local`) above either. A broken file refuses the start or the reload.
 */
async function loadKeywords(config: ReadonlyConfig): Promise<LoadedKeywords> {
  const own = path.join(config.categoriesDir, 'keywords');
  const shipped = existsSync(own) ? own : path.join(PACKAGE_ROOT, 'categories', 'keywords');
  return loadKeywordLists(shipped, keywordsLocalDir(config.dataDir));
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
  const lock = await claimDataDir(config.dataDir, logger);
  try {
    const running = await startClaimed(config, logger, opts);
    return { ...running, stop: () => running.stop().finally(() => lock.release()) };
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startClaimed(
  config: ReadonlyConfig,
  logger: Logger,
  opts: StartOptions,
): Promise<RunningSchoolgate> {
  // The only reference to the loaded lists is `snapshot`, swapped whole by a reload (src/app/reload.ts);
  // each decision reads it once. Keep no other variable holding them, or a closure keeps the first load
  // alive for the life of the process (one extra copy of every list).
  const fileModes = checkStartModes(config, certsDirOf(config, opts.certsDir), logger);
  let snapshot: LoadedPolicy & { loadedAt: number } = { ...(await loadPolicy(config)), loadedAt: Date.now() };
  for (const warning of snapshot.warnings.slice(0, 20)) logger.warn(warning);
  const missing = config.tls.neverInspect.categories.filter((c) => !snapshot.lists.categories.has(c));
  if (config.tls.inspect && missing.length > 0)
    logger.warn(
      { categories: missing },
      'tls.neverInspect.categories names categories without a list: no host is exempt from inspection by them',
    );
  // Sinks before anything that needs closing: a missing secret file is a configuration error at start.
  const sinks = createAlertSinks(config.alerts, { logger, timeZone: config.timeZone });
  const certsDir = certsDirOf(config, opts.certsDir);
  const ca = loadSchoolCa(config, certsDir, logger);
  let caProblem = ca?.problem ?? null;
  const hostRoutes = loadHostRoutes(config.hostsFile, config.hosts);
  const auditPath = auditDbPath(config.dataDir);
  const audit = await WorkerAuditStore.open({
    path: auditPath,
    batchMaxRows: config.audit.batchMaxRows,
    integrity: opts.integrity ?? 'quick',
    newDatabase: opts.newAuditDatabase ?? false,
    logger,
  }).catch(async (err: unknown) => {
    await sinks.close();
    throw err;
  });
  const users = new UserStore(config.dataDir);
  const tokenKey = loadOrCreateTokenKey(config.dataDir);
  const identifier = new Identifier(config, users, readStateAddresses(config.dataDir));
  const proxy = createProxyServer({
    config,
    policy: () => snapshot,
    audit,
    identifier,
    hostRoutes,
    tokenKey,
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
  alerts.subscribe(proxy.events);
  // Metrics subscribe before the first request; the reloader exists once the proxy listens.
  const later: { reloader?: Reloader } = {};
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
    address = await proxy.listen();
  } catch (err) {
    await alerts.close();
    await sinks.close();
    await audit.close();
    users.close();
    throw err;
  }
  // Scheduled digests (src/alerts/digest/): their own timers, started once the proxy listens.
  const digests = startDigests({
    settings: config.alerts,
    timeZone: config.timeZone,
    auditPath,
    audit,
    categories: () => snapshot.lists.categories,
    logger,
    ...(opts.digestClock ? { clock: opts.digestClock } : {}),
  });
  const live = await startLive({
    config,
    reloadConfig: opts.reloadConfig ?? (() => config),
    loadPolicy,
    proxy,
    address,
    auditPath,
    auditOpened: audit.opened,
    auditQueueDepth: () => audit.queueDepth,
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
  });
  const caWatch = watchCaExpiry(proxy, logger, opts.now);
  later.reloader = live.reloader;
  live.reloader.watch({ current: () => snapshot, logger });
  let stopping: Promise<void> | undefined;
  return {
    address,
    proxy,
    audit,
    auditPath,
    identifier,
    alerts: { engine: alerts, sinks, digests },
    reload: () => live.reloader.reload(),
    stop: () =>
      (stopping ??= (async () => {
        caWatch.stop();
        await live.close();
        await proxy.close();
        // After the proxy: the last exchanges' events may still raise alerts.
        await new Promise((resolve) => setImmediate(resolve));
        await alerts.close();
        await digests.stop(); // before the audit store: a digest being sent is still recorded
        await sinks.close();
        await audit.close();
        users.close();
      })()),
  };
}
