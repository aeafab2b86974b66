/**
 * The running proxy's live side: the reloader that swaps snapshots and the control socket that answers
 * `status`, `reload` and `decide`. start.ts calls startLive() once the proxy listens.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AuditOpenReport } from '../audit/index.js';
import type { ReadonlyConfig } from '../config/load.js';
import { locationOf } from '../config/location.js';
import type { Identifier } from '../identity/identify.js';
import type { AlertsSnapshot } from '../metrics/metrics.js';
import type { ProxyServer } from '../proxy/server.js';
import type { ControlHandlers } from './cluster/role.js';
import { controlSocketPath, startControlServer } from './control.js';
import { Reloader, type LoadedPolicy } from './reload.js';
import type { CaStatus } from './school-ca.js';
import { controlHandlers, startRateSampler, type StatusDeps } from './status.js';

export interface LiveDeps {
  config: ReadonlyConfig;
  reloadConfig: () => ReadonlyConfig;
  loadPolicy: (config: ReadonlyConfig) => Promise<LoadedPolicy>;
  proxy: ProxyServer;
  address: AddressInfo;
  auditPath: string;
  /** What the audit database's check at start found and did; null on PostgreSQL. */
  auditOpened: AuditOpenReport | null;
  /** Where the record is kept and whether it can be written now, for `status`. */
  auditStore?: StatusDeps['auditStore'];
  auditQueueDepth: () => number;
  /** Whether the audit writer signs checkpoints, for `status`. */
  auditSigning?: StatusDeps['auditSigning'];
  identifier: Identifier;
  current: () => LoadedPolicy & { loadedAt: number };
  swap: (next: LoadedPolicy & { loadedAt: number }) => void;
  logger: Logger;
  /** The alerts engine's and sinks' counters, for `status`. */
  alerts?: () => AlertsSnapshot;
  /** The school CA's state, for `status` (null when inspection is off). */
  ca?: () => CaStatus | null;
  /** Reads the CA files again on each reload (an activated renewal); the line for the reload's answer. */
  reloadCa?: () => string | null;
  /** The start's file-mode check, and the certs folder `status` checks again. */
  fileModes?: StatusDeps['fileModes'];
  /** The console's directory sign-in, for `status` (the console starts after this). */
  consoleDirectory?: StatusDeps['consoleDirectory'];
  /**
   * serve --workers N (src/app/cluster/): the primary answers with handlers that reach its workers; a proxy
   * worker opens no socket and takes no SIGHUP (the primary sends it commands).
   */
  control?: { socket: false } | { socket: true; wrap: (own: ControlHandlers) => ControlHandlers };
  /** store: { postgres }: the shared policy's sync before each reload, and its state for `status`. */
  policySync?: {
    beforeReload: () => Promise<void>;
    status: NonNullable<StatusDeps['policySync']>;
    /** `policy-edit-begin` and `policy-edit-publish`, around a CLI edit (src/cli/policy-edit.ts). */
    handlers: ControlHandlers;
  };
}

export interface Live {
  reloader: Reloader;
  /** What the control socket answers (a proxy worker answers its primary with them). */
  handlers: ControlHandlers;
  close(): Promise<void>;
}

export async function startLive(deps: LiveDeps): Promise<Live> {
  const { logger } = deps;
  const reloader = new Reloader({
    config: deps.config,
    loadConfig: deps.reloadConfig,
    loadPolicy: deps.loadPolicy,
    ...(deps.reloadCa ? { reloadCa: deps.reloadCa } : {}),
    ...(deps.policySync ? { beforeLoad: deps.policySync.beforeReload } : {}),
    apply: ({ config, policy, addresses }) => {
      deps.identifier.reconfigure(config, addresses);
      deps.swap({ ...policy, loadedAt: Date.now() });
      logger.info({ categories: policy.lists.categories.size, entries: policy.entries }, 'reloaded');
    },
  });
  const sampler = startRateSampler(deps.proxy.stats);
  const own = controlHandlers(
    {
      dataDir: deps.config.dataDir,
      auditPath: deps.auditPath,
      auditOpened: deps.auditOpened,
      startedAt: deps.proxy.stats.startedAt,
      address: deps.address,
      server: deps.proxy.server,
      stats: deps.proxy.stats,
      auditQueueDepth: deps.auditQueueDepth,
      policy: deps.current,
      reloader,
      pollUsers: () => deps.proxy.pollUsers(),
      probes: deps.proxy.probes,
      config: locationOf(deps.config),
      directory: () => deps.identifier.authCounters().directory,
      ...(deps.alerts ? { alerts: deps.alerts } : {}),
      ...(deps.ca ? { ca: deps.ca } : {}),
      ...(deps.fileModes ? { fileModes: deps.fileModes } : {}),
      ...(deps.auditSigning ? { auditSigning: deps.auditSigning } : {}),
      ...(deps.consoleDirectory ? { consoleDirectory: deps.consoleDirectory } : {}),
      ...(deps.auditStore ? { auditStore: deps.auditStore } : {}),
      ...(deps.policySync ? { policySync: deps.policySync.status } : {}),
      profileFor: async (clientIp) => {
        const r = await deps.identifier.identify({ clientIp, proxyAuthorization: undefined });
        return r.ok ? r.identity.profile : null;
      },
    },
    sampler.rate,
  );
  const withPolicy = { ...own, ...deps.policySync?.handlers };
  const handlers = deps.control?.socket === true ? deps.control.wrap(withPolicy) : withPolicy;
  const socket = deps.control?.socket !== false;
  // SIGHUP does the same as `schoolgate reload`, for init systems that only know signals.
  const onHup = () => {
    Promise.resolve(handlers.reload!({})).catch((err: unknown) =>
      logger.error({ err }, 'reload on SIGHUP failed'),
    );
  };
  if (socket) process.on('SIGHUP', onHup);
  let control: { close(): Promise<void> } | undefined;
  try {
    if (socket) control = await startControlServer(controlSocketPath(deps.config.dataDir), handlers, logger);
  } catch (err) {
    // Filtering matters more than the control socket: serve without it, and say so.
    logger.warn({ err }, 'control socket unavailable: status and reload will not reach this proxy');
  }
  return {
    reloader,
    handlers,
    close: async () => {
      process.off('SIGHUP', onHup);
      sampler.stop();
      await control?.close();
    },
  };
}
