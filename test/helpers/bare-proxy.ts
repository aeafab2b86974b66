/**
 * The proxy server alone (no reloader, no alerts, no control socket) with a policy the test supplies and
 * can change or break, over a real audit database and user store.
 */
import { pino } from 'pino';
import { auditDbPath } from '../../src/app/start.js';
import { WorkerAuditStore } from '../../src/audit/index.js';
import type { ReadonlyConfig } from '../../src/config/load.js';
import type { PolicySnapshot } from '../../src/exchange/snapshot.js';
import { Identifier } from '../../src/identity/identify.js';
import { UserStore } from '../../src/identity/user-store.js';
import { createProxyServer, type ProxyServer } from '../../src/proxy/server.js';
import { loadOrCreateTokenKey } from '../../src/proxy/warn-token.js';

export interface BareProxy {
  proxy: ProxyServer;
  port: number;
  auditPath: string;
  close(): Promise<void>;
}

export async function startBareProxy(
  config: ReadonlyConfig,
  policy: () => PolicySnapshot,
  hostRoutes: ReadonlyMap<string, string> = new Map([['allowed.test', '127.0.0.1']]),
): Promise<BareProxy> {
  const auditPath = auditDbPath(config.dataDir);
  const audit = await WorkerAuditStore.open({ path: auditPath, batchMaxRows: 100 });
  const users = new UserStore(config.dataDir);
  const proxy = createProxyServer({
    config,
    policy,
    audit,
    identifier: new Identifier(config, users),
    hostRoutes,
    tokenKey: loadOrCreateTokenKey(config.dataDir),
    logger: pino({ level: 'silent' }),
  });
  const port = (await proxy.listen()).port;
  return {
    proxy,
    port,
    auditPath,
    close: async () => {
      await proxy.close();
      await audit.close();
      users.close();
    },
  };
}
