/**
 * The composition root: config → category lists → profiles → audit store → identity → edge.
 * `serve` and the integration tests both start schoolgate through here.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { AlertsEngine } from '../alerts/engine.js';
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
import { startMetrics } from '../metrics/metrics.js';
import { checkFileModes, type ModeCheck } from './file-modes.js';
import { startLive } from './live.js';
import { claimDataDir } from './serve-lock.js';
import { readStateAddresses, type LoadedPolicy, type Reloader, type ReloadResult } from './reload.js';
import { loadHostRoutes } from '../proxy/hosts-file.js';
import { createProxyServer, type ProxyServer } from '../proxy/server.js';
import { loadOrCreateTokenKey } from '../proxy/warn-token.js';
import { caDaysLeft, CA_EXPIRY_WARNING_DAYS, loadOrCreateCa, type SchoolCa } from '../tls/ca.js';

export interface RunningSchoolgate {
  address: AddressInfo;
  proxy: ProxyServer;
  audit: WorkerAuditStore;
  auditPath: string;
  /** The safeguarding alerts engine and its sinks (status, tests). */
  alerts: { engine: AlertsEngine; sinks: AlertSinks };
  /** Loads config, lists and networks beside the running ones and swaps them in when complete. */
  reload(): Promise<ReloadResult>;
  /** Stops accepting, lets open exchanges finish (bounded), commits every queued audit row. */
  stop(): Promise<void>;
}

/** The certs folder: `--certs`, else tls.certsDir (resolved against the config file's folder when loaded). */
export function certsDirOf(config: ReadonlyConfig, override?: string): string {
  return path.resolve(override ?? config.tls.certsDir);
}

/**
 * The school CA for inspection, created on first start. An expired CA is an outage said loudly: inspected
 * profiles' tunnels are refused (fail closed, never a raw tunnel), /healthz says so; one near expiry is a
 * warning.
 */
export function loadSchoolCa(config: ReadonlyConfig, certsDir: string, logger: Logger): SchoolCa | null {
  if (!config.tls.inspect) return null;
  const { ca, created } = loadOrCreateCa(certsDir);
  if (created)
    logger.info(
      { certsDir, fingerprint256: ca.fingerprint256 },
      'created the school CA: devices must install it (http://<proxy>/ca.crt) before HTTPS inspection works',
    );
  const days = caDaysLeft(ca);
  if (days < 0) {
    // Kept, not dropped: an inspected profile's HTTPS is then refused (SG_CA_UNUSABLE), never tunnelled raw.
    logger.error(
      { certsDir, notAfter: ca.notAfter.toISOString(), code: 'SG_CA_UNUSABLE' },
      'the school CA has expired: HTTPS of inspected profiles is REFUSED until it is renewed; run `schoolgate ca init --force` and reinstall it on devices',
    );
    return ca;
  }
  if (days < CA_EXPIRY_WARNING_DAYS)
    logger.warn(
      { certsDir, notAfter: ca.notAfter.toISOString(), daysLeft: days },
      'the school CA expires soon: make a new one (`schoolgate ca init --force`) and install it on devices',
    );
  return ca;
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

type StartOptions = { now?: () => Date; reloadConfig?: () => ReadonlyConfig; certsDir?: string };

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
  const ca = loadSchoolCa(config, certsDirOf(config, opts.certsDir), logger);
  const hostRoutes = loadHostRoutes(config.hostsFile, config.hosts);
  const auditPath = auditDbPath(config.dataDir);
  const audit = await WorkerAuditStore.open({
    path: auditPath,
    batchMaxRows: config.audit.batchMaxRows,
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
    ca,
    ...(opts.now ? { now: opts.now } : {}),
  });
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
      leaves: proxy.tls?.leaves ?? null,
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
  const live = await startLive({
    config,
    reloadConfig: opts.reloadConfig ?? (() => config),
    loadPolicy,
    proxy,
    address,
    auditPath,
    auditQueueDepth: () => audit.queueDepth,
    identifier,
    current: () => snapshot,
    swap: (next) => (snapshot = next),
    logger,
    alerts: alertsSnapshot,
    fileModes: { certsDir: certsDirOf(config, opts.certsDir), atStart: fileModes },
  });
  later.reloader = live.reloader;
  live.reloader.watch({ current: () => snapshot, logger });
  let stopping: Promise<void> | undefined;
  return {
    address,
    proxy,
    audit,
    auditPath,
    alerts: { engine: alerts, sinks },
    reload: () => live.reloader.reload(),
    stop: () =>
      (stopping ??= (async () => {
        await live.close();
        await proxy.close();
        // After the proxy: the last exchanges' events may still raise alerts.
        await new Promise((resolve) => setImmediate(resolve));
        await alerts.close();
        await sinks.close();
        await audit.close();
        users.close();
      })()),
  };
}
