/**
 * The composition root: config → category lists → profiles → audit store → identity → edge.
 * `serve` and the integration tests both start schoolgate through here.
 */
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { WorkerAuditStore } from '../audit/index.js';
import type { ReadonlyConfig } from '../config/load.js';
import { buildProfiles } from '../config/profiles.js';
import { Identifier } from '../identity/identify.js';
import { UserStore } from '../identity/user-store.js';
import { loadCategories } from '../lists/load.js';
import type { PolicySnapshot } from '../proxy/gatekeeper.js';
import { loadHostRoutes } from '../proxy/hosts-file.js';
import { createProxyServer, type ProxyServer } from '../proxy/server.js';
import { loadOrCreateTokenKey } from '../proxy/warn-token.js';

export interface RunningSchoolgate {
  address: AddressInfo;
  proxy: ProxyServer;
  audit: WorkerAuditStore;
  auditPath: string;
  /** Stops accepting, lets open exchanges finish (bounded), commits every queued audit row. */
  stop(): Promise<void>;
}

export function auditDbPath(dataDir: string): string {
  return path.join(dataDir, 'audit.sqlite');
}

export async function loadPolicy(config: ReadonlyConfig): Promise<PolicySnapshot & { warnings: string[] }> {
  const loaded = await loadCategories(config.categoriesDir);
  return { lists: loaded.lists, profiles: buildProfiles(config, loaded.lists), warnings: loaded.warnings };
}

export async function startSchoolgate(
  config: ReadonlyConfig,
  logger: Logger,
  opts: { now?: () => Date } = {},
): Promise<RunningSchoolgate> {
  const policy = await loadPolicy(config);
  for (const warning of policy.warnings.slice(0, 20)) logger.warn(warning);
  const hostRoutes = loadHostRoutes(config.hostsFile, config.hosts);
  const auditPath = auditDbPath(config.dataDir);
  const audit = await WorkerAuditStore.open({
    path: auditPath,
    batchMaxRows: config.audit.batchMaxRows,
    logger,
  });
  const users = new UserStore(config.dataDir);
  const tokenKey = loadOrCreateTokenKey(config.dataDir);
  const snapshot: PolicySnapshot = { lists: policy.lists, profiles: policy.profiles };
  const proxy = createProxyServer({
    config,
    policy: () => snapshot,
    audit,
    identifier: new Identifier(config, users),
    hostRoutes,
    tokenKey,
    logger,
    ...(opts.now ? { now: opts.now } : {}),
  });
  let address: AddressInfo;
  try {
    address = await proxy.listen();
  } catch (err) {
    await audit.close();
    users.close();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    address,
    proxy,
    audit,
    auditPath,
    stop: () =>
      (stopping ??= (async () => {
        await proxy.close();
        await audit.close();
        users.close();
      })()),
  };
}
